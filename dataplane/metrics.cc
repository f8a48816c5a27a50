#include "dataplane/metrics.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace valet {
namespace {

constexpr const char* kUpstreamErrorNames[] = {"connect",      "reset",      "timeout",
                                               "bad_response", "overloaded", "tls"};
static_assert(std::size(kUpstreamErrorNames) == static_cast<size_t>(UpstreamError::kCount),
              "one name per UpstreamError");

constexpr const char* kLegOutcomeNames[] = {"ok",         "timeout",  "status",
                                            "connection", "not_json", "cancelled"};
static_assert(std::size(kLegOutcomeNames) == static_cast<size_t>(LegOutcome::kCount),
              "one name per LegOutcome");

constexpr const char* kAuthFailureNames[] = {"missing", "invalid"};
static_assert(std::size(kAuthFailureNames) == static_cast<size_t>(AuthFailure::kCount),
              "one name per AuthFailure");

// Only apps that refused a request have the series (open apps never do).
void RenderAuthFailures(const std::string& label, const AppStats& s, std::string* out) {
  uint64_t n[static_cast<int>(AuthFailure::kCount)];
  uint64_t total = 0;
  for (int f = 0; f < static_cast<int>(AuthFailure::kCount); ++f) {
    n[f] = s.auth_failures(static_cast<AuthFailure>(f));
    total += n[f];
  }
  if (total == 0) return;
  for (int f = 0; f < static_cast<int>(AuthFailure::kCount); ++f) {
    absl::StrAppend(out, "valet_auth_failures_total{app=\"", label, "\",reason=\"",
                    kAuthFailureNames[f], "\"} ", n[f], "\n");
  }
}

}  // namespace

std::string PrometheusLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

namespace {

// `errors` may be null: unrouted requests never reach a backend.
void RenderApp(const std::string& label, const AppStats& s, std::string* requests,
               std::string* errors) {
  for (int c = 1; c <= 5; ++c) {
    uint64_t n = s.requests(c);
    if (n == 0) continue;
    absl::StrAppend(requests, "valet_requests_total{app=\"", label, "\",class=\"", c, "xx\"} ", n,
                    "\n");
  }
  for (int e = 0; errors != nullptr && e < static_cast<int>(UpstreamError::kCount); ++e) {
    uint64_t n = s.upstream_errors(static_cast<UpstreamError>(e));
    absl::StrAppend(errors, "valet_upstream_errors_total{app=\"", label, "\",kind=\"",
                    kUpstreamErrorNames[e], "\"} ", n, "\n");
  }
}

}  // namespace

void AppStats::RecordRequest(int status, std::chrono::nanoseconds latency) {
  int cls = status / 100;
  if (cls < 1 || cls > 5) cls = 5;
  by_class_[cls].fetch_add(1, std::memory_order_relaxed);
  double ms = std::chrono::duration<double, std::milli>(latency).count();
  size_t b = 0;
  while (b < kLatencyBucketsMs.size() && ms > kLatencyBucketsMs[b]) ++b;
  latency_buckets_[b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(latency).count()),
      std::memory_order_relaxed);
}

std::string_view LegOutcomeName(LegOutcome outcome) {
  return kLegOutcomeNames[static_cast<int>(outcome)];
}

std::shared_ptr<FanoutLegStats> Metrics::ForFanoutLeg(const std::string& app,
                                                      const std::string& backend) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<FanoutLegStats>& slot = fanout_legs_[{app, backend}];
  if (!slot) slot = std::make_shared<FanoutLegStats>();
  return slot;
}

std::shared_ptr<AppStats> Metrics::ForApp(const std::string& name) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<AppStats>& slot = apps_[name];
  if (!slot) slot = std::make_shared<AppStats>();
  return slot;
}

Metrics::RequestTotals Metrics::Totals() const {
  RequestTotals totals;
  auto add = [&totals](const AppStats& s) {
    for (int c = 1; c <= 5; ++c) totals.requests += s.requests(c);
    totals.errors += s.requests(5);
  };
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, stats] : apps_) add(*stats);
  }
  add(*unrouted_);
  return totals;
}

std::string Metrics::RenderPrometheus() const {
  std::string requests =
      "# HELP valet_requests_total Requests answered, by app and status class.\n"
      "# TYPE valet_requests_total counter\n";
  std::string errors =
      "# HELP valet_upstream_errors_total Failed backend calls, by app and kind.\n"
      "# TYPE valet_upstream_errors_total counter\n";
  std::string auth =
      "# HELP valet_auth_failures_total Requests refused by auth (401), by app and reason.\n"
      "# TYPE valet_auth_failures_total counter\n";
  std::string latency =
      "# HELP valet_request_duration_seconds Time from request header to response end.\n"
      "# TYPE valet_request_duration_seconds histogram\n";

  auto render_latency = [&latency](const std::string& label, const AppStats& s) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= AppStats::kLatencyBucketsMs.size(); ++b) {
      cumulative += s.latency_buckets_[b].load(std::memory_order_relaxed);
      std::string le = b < AppStats::kLatencyBucketsMs.size()
                           ? absl::StrFormat("%g", AppStats::kLatencyBucketsMs[b] / 1000.0)
                           : "+Inf";
      absl::StrAppend(&latency, "valet_request_duration_seconds_bucket{app=\"", label, "\",le=\"",
                      le, "\"} ", cumulative, "\n");
    }
    absl::StrAppend(
        &latency, "valet_request_duration_seconds_sum{app=\"", label, "\"} ",
        absl::StrFormat("%.6f", s.latency_sum_us_.load(std::memory_order_relaxed) / 1e6), "\n");
    absl::StrAppend(&latency, "valet_request_duration_seconds_count{app=\"", label, "\"} ",
                    cumulative, "\n");
  };

  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, stats] : apps_) {
      std::string label = PrometheusLabelValue(name);
      RenderApp(label, *stats, &requests, &errors);
      RenderAuthFailures(label, *stats, &auth);
      render_latency(label, *stats);
    }
  }
  RenderApp("", *unrouted_, &requests, nullptr);

  std::string out = requests + errors + auth + latency;
  {
    absl::MutexLock lock(&mu_);
    if (!fanout_legs_.empty()) {
      absl::StrAppend(&out,
                      "# HELP valet_fanout_legs_total Fan-out legs, by app, backend and outcome.\n"
                      "# TYPE valet_fanout_legs_total counter\n");
    }
    for (const auto& [key, stats] : fanout_legs_) {
      std::string labels = absl::StrCat("app=\"", PrometheusLabelValue(key.first), "\",backend=\"",
                                        PrometheusLabelValue(key.second), "\",outcome=\"");
      for (int o = 0; o < static_cast<int>(LegOutcome::kCount); ++o) {
        absl::StrAppend(&out, "valet_fanout_legs_total{", labels, kLegOutcomeNames[o], "\"} ",
                        stats->count(static_cast<LegOutcome>(o)), "\n");
      }
    }
  }
  absl::StrAppend(&out,
                  "# HELP valet_config_reloads_total Snapshot installs, by result.\n"
                  "# TYPE valet_config_reloads_total counter\n"
                  "valet_config_reloads_total{result=\"ok\"} ",
                  config_reloads_ok_.load(), "\n", "valet_config_reloads_total{result=\"error\"} ",
                  config_reloads_failed_.load(), "\n",
                  "# HELP valet_snapshot_version Version of the serving config snapshot.\n"
                  "# TYPE valet_snapshot_version gauge\n"
                  "valet_snapshot_version ",
                  snapshot_version_.load(), "\n",
                  "# HELP valet_active_connections Open client connections.\n"
                  "# TYPE valet_active_connections gauge\n"
                  "valet_active_connections ",
                  active_connections_.load(), "\n",
                  "# HELP valet_active_tunnels Client connections switched to a byte tunnel "
                  "(WebSocket).\n"
                  "# TYPE valet_active_tunnels gauge\n"
                  "valet_active_tunnels ",
                  active_tunnels_.load(), "\n",
                  "# HELP valet_tls_handshake_failures_total HTTPS client handshakes that failed "
                  "or timed out.\n"
                  "# TYPE valet_tls_handshake_failures_total counter\n"
                  "valet_tls_handshake_failures_total ",
                  tls_handshake_failures_.load(), "\n",
                  "# HELP valet_malformed_requests_total Requests refused as malformed.\n"
                  "# TYPE valet_malformed_requests_total counter\n"
                  "valet_malformed_requests_total ",
                  malformed_requests_.load(), "\n",
                  "# HELP valet_upstream_connections_opened_total Backend connections attempted.\n"
                  "# TYPE valet_upstream_connections_opened_total counter\n"
                  "valet_upstream_connections_opened_total ",
                  upstream_connections_opened_.load(), "\n",
                  "# HELP valet_upstream_ejections_total Endpoints ejected after consecutive "
                  "failures.\n"
                  "# TYPE valet_upstream_ejections_total counter\n"
                  "valet_upstream_ejections_total ",
                  upstream_ejections_.load(), "\n",
                  "# HELP valet_upstream_panic_total Requests sent to an ejected endpoint because "
                  "every endpoint left was ejected.\n"
                  "# TYPE valet_upstream_panic_total counter\n"
                  "valet_upstream_panic_total ",
                  upstream_panic_picks_.load(), "\n",
                  "# HELP valet_upstream_pending_requests Requests waiting for a backend "
                  "connection (the endpoint is at --max-connections-per-endpoint).\n"
                  "# TYPE valet_upstream_pending_requests gauge\n"
                  "valet_upstream_pending_requests ",
                  upstream_pending_.load(), "\n");
  return out;
}

}  // namespace valet
