// Counters and latency histograms of the data plane, exported in Prometheus text format.
//
// Per-app stats live as long as the registry and are keyed by app name, so they survive snapshot
// swaps. The request path only touches relaxed atomics through an AppStats pointer that the
// compiled snapshot already holds: no lock, no lookup per request.
#ifndef VALET_DATAPLANE_METRICS_H_
#define VALET_DATAPLANE_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace valet {

// Why a request to a backend failed. kOverloaded: no connection to the backend came free in
// time (the per-endpoint connection cap and its queue; answered 503 upstream_overloaded).
enum class UpstreamError {
  kConnect = 0,
  kReset,
  kTimeout,
  kBadResponse,
  kOverloaded,
  kTls,  // The TLS handshake with a backend of scheme https failed.
  kCount
};

// Why the auth stage refused a request (401): no credential header, or a key it does not know.
enum class AuthFailure { kMissing = 0, kInvalid, kCount };
// `value` escaped for a Prometheus label value (backslash, double quote, newline).
std::string PrometheusLabelValue(const std::string& value);
// How one leg of a fan-out request ended (docs/fanout.md). kCancelled: the client went away.
enum class LegOutcome { kOk = 0, kTimeout, kStatus, kConnection, kNotJson, kCancelled, kCount };
std::string_view LegOutcomeName(LegOutcome outcome);

// Legs of one fan-out backend of one app, by outcome.
class FanoutLegStats {
 public:
  void Record(LegOutcome outcome) {
    by_outcome_[static_cast<int>(outcome)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t count(LegOutcome outcome) const {
    return by_outcome_[static_cast<int>(outcome)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, static_cast<int>(LegOutcome::kCount)> by_outcome_{};
};

class AppStats {
 public:
  // Upper bounds of the latency buckets, in milliseconds (+Inf is implicit).
  static constexpr std::array<double, 14> kLatencyBucketsMs = {
      0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

  void RecordRequest(int status, std::chrono::nanoseconds latency);
  void RecordUpstreamError(UpstreamError e) {
    upstream_errors_[static_cast<int>(e)].fetch_add(1, std::memory_order_relaxed);
  }

  void RecordAuthFailure(AuthFailure f) {
    auth_failures_[static_cast<int>(f)].fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t requests(int status_class) const {  // 1..5
    return by_class_[status_class].load(std::memory_order_relaxed);
  }
  uint64_t upstream_errors(UpstreamError e) const {
    return upstream_errors_[static_cast<int>(e)].load(std::memory_order_relaxed);
  }
  uint64_t auth_failures(AuthFailure f) const {
    return auth_failures_[static_cast<int>(f)].load(std::memory_order_relaxed);
  }

 private:
  friend class Metrics;
  std::array<std::atomic<uint64_t>, 6> by_class_{};  // index = status / 100 (0 unused)
  std::array<std::atomic<uint64_t>, static_cast<int>(UpstreamError::kCount)> upstream_errors_{};
  std::array<std::atomic<uint64_t>, kLatencyBucketsMs.size() + 1> latency_buckets_{};
  std::atomic<uint64_t> latency_sum_us_{0};
  std::array<std::atomic<uint64_t>, static_cast<int>(AuthFailure::kCount)> auth_failures_{};
};

// Thread-safe registry of everything /metrics shows.
class Metrics {
 public:
  // Stats of app `name`, created on first use. The pointer stays valid for the registry's life.
  std::shared_ptr<AppStats> ForApp(const std::string& name);

  // Legs of the fan-out backend `backend` of app `app`, created on first use (at snapshot
  // compile time); valid for the registry's life.
  std::shared_ptr<FanoutLegStats> ForFanoutLeg(const std::string& app, const std::string& backend);

  // Requests that named no known app.
  AppStats& unrouted() { return *unrouted_; }

  std::atomic<uint64_t>& config_reloads_ok() { return config_reloads_ok_; }
  std::atomic<uint64_t>& config_reloads_failed() { return config_reloads_failed_; }
  std::atomic<uint64_t>& snapshot_version() { return snapshot_version_; }
  std::atomic<int64_t>& active_connections() { return active_connections_; }
  std::atomic<int64_t>& active_tunnels() { return active_tunnels_; }
  std::atomic<uint64_t>& malformed_requests() { return malformed_requests_; }
  std::atomic<uint64_t>& tls_handshake_failures() { return tls_handshake_failures_; }
  std::atomic<uint64_t>& upstream_connections_opened() { return upstream_connections_opened_; }
  std::atomic<uint64_t>& upstream_ejections() { return upstream_ejections_; }
  std::atomic<uint64_t>& upstream_panic_picks() { return upstream_panic_picks_; }
  std::atomic<int64_t>& upstream_pending() { return upstream_pending_; }

  // Prometheus text exposition format 0.0.4.
  std::string RenderPrometheus() const;

  // Requests answered so far (every app and the unrouted ones), and how many of them got a 5xx:
  // what the data plane reports to its control plane.
  struct RequestTotals {
    uint64_t requests = 0;
    uint64_t errors = 0;
  };
  RequestTotals Totals() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<AppStats>> apps_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::shared_ptr<FanoutLegStats>> fanout_legs_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<AppStats> unrouted_ = std::make_shared<AppStats>();
  std::atomic<uint64_t> config_reloads_ok_{0};
  std::atomic<uint64_t> config_reloads_failed_{0};
  std::atomic<uint64_t> snapshot_version_{0};
  std::atomic<int64_t> active_connections_{0};
  std::atomic<int64_t> active_tunnels_{0};
  std::atomic<uint64_t> malformed_requests_{0};
  std::atomic<uint64_t> tls_handshake_failures_{0};
  std::atomic<uint64_t> upstream_connections_opened_{0};
  std::atomic<uint64_t> upstream_ejections_{0};
  std::atomic<uint64_t> upstream_panic_picks_{0};
  std::atomic<int64_t> upstream_pending_{0};
};

}  // namespace valet

#endif  // VALET_DATAPLANE_METRICS_H_
