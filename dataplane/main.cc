// valet-dataplane: the proxy. Serves apps from a conf dir (standalone) or from snapshots pushed
// by a control plane. See docs/dataplane.md.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/signal_set.hpp"
#include "common/conf_dir.h"
#include "common/flag_args.h"
#include "common/listen_address.h"
#include "common/logging.h"
#include "common/tls_files.h"
#include "common/token_auth.h"
#include "dataplane/control_client.h"
#include "dataplane/limits/quota_broker.h"
#include "dataplane/server.h"
#include "dataplane/snapshot_cache.h"

namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

ABSL_FLAG(std::string, conf_dir, "",
          "Serve the app configs of this directory (*.json); SIGHUP reloads it.");
ABSL_FLAG(std::string, control_plane, "",
          "Take snapshots from these control planes instead (HOST:PORT[,HOST:PORT]: a pair fails "
          "over). Env: VALET_CONTROL_PLANE.");
ABSL_FLAG(std::string, id, "",
          "Name of this data plane on the control plane (default: HOSTNAME:LISTEN-PORT).");
ABSL_FLAG(std::string, cache_dir, "",
          "With --control-plane: keep the last good snapshot here and serve it at start when no "
          "control plane answers.");
ABSL_FLAG(int, control_backoff_min_ms, 100,
          "With --control-plane: the shortest wait between attach attempts (the first wait "
          "after a stream ends is between this and twice this).");
ABSL_FLAG(int, control_backoff_max_ms, 5'000,
          "With --control-plane: the longest wait between attach attempts; a control plane that "
          "comes back is attached within this (plus the time to connect).");
ABSL_FLAG(int, report_interval_ms, 5'000,
          "With --control-plane: send a status report (version served, workers, request and "
          "error counts) to the control plane this often; 0 = never.");
ABSL_FLAG(int, quota_wait_ms, 100,
          "With --control-plane: how long a request of a rate-limited app may wait for quota from "
          "the control plane before it gets 429 (docs/rate-limits.md).");
ABSL_FLAG(int, quota_idle_ms, 500,
          "With --control-plane: granted rate-limit quota left unspent this long goes back to the "
          "control plane for other data planes to spend; a data plane refused because its window "
          "is spent asks again after this long (docs/rate-limits.md).");
ABSL_FLAG(std::string, listen, EnvOr("VALET_LISTEN", "0.0.0.0:8000"),
          "Proxy listener, HOST:PORT (port 0 picks one). Env: VALET_LISTEN.");
ABSL_FLAG(std::string, tls_listen, "",
          "HTTPS listener, HOST:PORT (port 0 picks one), beside --listen; needs --tls-cert and "
          "--tls-key.");
ABSL_FLAG(std::vector<std::string>, tls_cert, {},
          "With --tls-listen: PEM certificate chains, comma-separated; each is served to clients "
          "whose SNI name matches one of its DNS names, the first to the others. SIGHUP re-reads "
          "them.");
ABSL_FLAG(std::vector<std::string>, tls_key, {},
          "The private keys of --tls-cert, comma-separated, in the same order.");
ABSL_FLAG(int, tls_handshake_timeout_ms, 10'000,
          "With --tls-listen: a client that has not finished its TLS handshake this long after "
          "connecting is cut off.");
ABSL_FLAG(std::string, admin_listen, EnvOr("VALET_ADMIN_LISTEN", "127.0.0.1:8001"),
          "Admin listener (/healthz, /readyz, /metrics). Env: VALET_ADMIN_LISTEN.");
ABSL_FLAG(std::string, admin_tokens_file, "",
          "Tokens file (lines `NAME ROLE SHA256HEX`): /metrics then needs a read or admin token; "
          "/healthz and /readyz stay open. SIGHUP re-reads it.");
ABSL_FLAG(std::string, token_file, "",
          "With --control-plane: a file holding this data plane's token (role dataplane), sent on "
          "each attach.");
ABSL_FLAG(std::string, control_tls_ca, "",
          "With --control-plane: dial it over TLS, verifying its certificate against this PEM CA.");
ABSL_FLAG(std::string, control_tls_cert, "",
          "With --control-tls-ca: this data plane's client certificate (mTLS), PEM.");
ABSL_FLAG(std::string, control_tls_key, "", "The private key of --control-tls-cert, PEM.");
ABSL_FLAG(int, workers, 0, "Event-loop threads; 0 = one per core.");
ABSL_FLAG(uint32_t, max_apps, 0,
          "Refuse (NACK) a snapshot with more apps than this; 0 = no limit.");
ABSL_FLAG(std::string, port_file, "",
          "Once listening, write the bound addresses here (lines 'listen HOST:PORT', "
          "'admin HOST:PORT').");
ABSL_FLAG(uint32_t, max_header_bytes, 16 * 1024, "Largest request header; larger gets 431.");
ABSL_FLAG(uint64_t, max_body_bytes, 64ull * 1024 * 1024, "Largest request body; larger gets 413.");
ABSL_FLAG(uint64_t, max_fanout_body_bytes, 1024 * 1024,
          "Largest request body of a fan-out route (read whole, then sent to every backend); "
          "larger gets 413.");
ABSL_FLAG(uint64_t, max_fanout_answer_bytes, 4 * 1024 * 1024,
          "Largest answer body of one fan-out backend; a larger answer fails that leg.");
ABSL_FLAG(int, client_timeout_ms, 60'000,
          "Deadline of every client read and write, and of an idle keep-alive connection.");
ABSL_FLAG(int, tunnel_idle_timeout_ms, 300'000,
          "Close a tunnel (a connection switched to another protocol, WebSocket) in which no "
          "byte moved in either direction for this long.");
ABSL_FLAG(int, upstream_io_timeout_ms, 60'000, "Deadline of every backend body read and write.");
ABSL_FLAG(int, upstream_idle_timeout_ms, 30'000,
          "Close pooled backend connections idle this long.");
ABSL_FLAG(uint32_t, max_connections_per_endpoint, 1024,
          "Open connections to one backend endpoint (connecting, in use and idle), for the whole "
          "data plane; requests past it wait in a queue.");
ABSL_FLAG(uint32_t, max_pending_per_endpoint, 4096,
          "Requests that may wait for a connection to one backend endpoint; more get 503.");
ABSL_FLAG(int, queue_timeout_ms, 5'000,
          "How long a request waits for a backend connection before it gets 503.");
ABSL_FLAG(uint32_t, eject_after_failures, 5,
          "Consecutive failures (refused connects, or timeouts while no connection is up) that "
          "eject a backend endpoint.");
ABSL_FLAG(int, eject_ms, 5'000, "How long an ejected backend endpoint is skipped.");
ABSL_FLAG(int, drain_timeout_ms, 15'000,
          "On SIGTERM, wait this long for requests in flight before exiting.");
ABSL_FLAG(bool, verbose, false, "Log debug lines.");

namespace valet {
namespace {

int Run() {
  ProxyOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  options.tls_listen = absl::GetFlag(FLAGS_tls_listen);
  options.tls_handshake_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_tls_handshake_timeout_ms));
  {
    std::vector<std::string> certs = absl::GetFlag(FLAGS_tls_cert);
    std::vector<std::string> keys = absl::GetFlag(FLAGS_tls_key);
    if (options.tls_listen.empty() != (certs.empty() && keys.empty())) {
      VALET_LOG(ERROR) << "--tls-listen, --tls-cert and --tls-key go together: give all three "
                          "or none";
      return 2;
    }
    if (certs.size() != keys.size()) {
      VALET_LOG(ERROR) << "--tls-cert names " << certs.size() << " certificates and --tls-key "
                       << keys.size() << " keys: give one key per certificate, in order";
      return 2;
    }
    for (size_t i = 0; i < certs.size(); ++i) {
      options.tls_certificates.push_back({certs[i], keys[i]});
    }
  }
  options.admin_tokens_file = absl::GetFlag(FLAGS_admin_tokens_file);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.max_apps = absl::GetFlag(FLAGS_max_apps);
  if (options.workers <= 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  options.max_header_bytes = absl::GetFlag(FLAGS_max_header_bytes);
  options.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  options.max_fanout_body_bytes = absl::GetFlag(FLAGS_max_fanout_body_bytes);
  options.max_fanout_answer_bytes = absl::GetFlag(FLAGS_max_fanout_answer_bytes);
  options.client_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_client_timeout_ms));
  options.tunnel_idle_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_tunnel_idle_timeout_ms));
  options.upstream_io_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_upstream_io_timeout_ms));
  options.upstream_idle_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_upstream_idle_timeout_ms));
  options.max_connections_per_endpoint = absl::GetFlag(FLAGS_max_connections_per_endpoint);
  options.max_pending_per_endpoint = absl::GetFlag(FLAGS_max_pending_per_endpoint);
  options.queue_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_queue_timeout_ms));
  options.eject_after_failures = absl::GetFlag(FLAGS_eject_after_failures);
  options.eject_duration = std::chrono::milliseconds(absl::GetFlag(FLAGS_eject_ms));

  // A zero or negative duration would fail every request (or never end a drain): refuse it.
  for (auto [name, value] :
       {std::pair{"--client-timeout-ms", absl::GetFlag(FLAGS_client_timeout_ms)},
        std::pair{"--tunnel-idle-timeout-ms", absl::GetFlag(FLAGS_tunnel_idle_timeout_ms)},
        std::pair{"--upstream-io-timeout-ms", absl::GetFlag(FLAGS_upstream_io_timeout_ms)},
        std::pair{"--upstream-idle-timeout-ms", absl::GetFlag(FLAGS_upstream_idle_timeout_ms)},
        std::pair{"--queue-timeout-ms", absl::GetFlag(FLAGS_queue_timeout_ms)},
        std::pair{"--eject-ms", absl::GetFlag(FLAGS_eject_ms)},
        std::pair{"--drain-timeout-ms", absl::GetFlag(FLAGS_drain_timeout_ms)},
        std::pair{"--tls-handshake-timeout-ms", absl::GetFlag(FLAGS_tls_handshake_timeout_ms)}}) {
    if (value <= 0) {
      VALET_LOG(ERROR) << name << " must be a positive number of milliseconds, got " << value;
      return 2;
    }
  }
  for (auto [name, value] :
       {std::pair{"--max-connections-per-endpoint", options.max_connections_per_endpoint},
        std::pair{"--eject-after-failures", options.eject_after_failures}}) {
    if (value == 0) {
      VALET_LOG(ERROR) << name << " must be at least 1";
      return 2;
    }
  }
  if (options.max_header_bytes < 1024) {
    VALET_LOG(ERROR) << "--max-header-bytes must be at least 1024, got "
                     << options.max_header_bytes;
    return 2;
  }

  const std::string conf_dir = absl::GetFlag(FLAGS_conf_dir);
  std::string control_plane = absl::GetFlag(FLAGS_control_plane);
  if (control_plane.empty()) control_plane = EnvOr("VALET_CONTROL_PLANE", "");
  if (conf_dir.empty() == control_plane.empty()) {
    VALET_LOG(ERROR) << "give exactly one config source: --conf-dir DIR or --control-plane "
                        "HOST:PORT";
    return 2;
  }
  if (absl::GetFlag(FLAGS_control_backoff_min_ms) <= 0 ||
      absl::GetFlag(FLAGS_control_backoff_max_ms) < absl::GetFlag(FLAGS_control_backoff_min_ms)) {
    VALET_LOG(ERROR) << "--control-backoff-min-ms must be positive and at most "
                        "--control-backoff-max-ms, got "
                     << absl::GetFlag(FLAGS_control_backoff_min_ms) << " and "
                     << absl::GetFlag(FLAGS_control_backoff_max_ms);
    return 2;
  }
  if (absl::GetFlag(FLAGS_quota_wait_ms) <= 0) {
    VALET_LOG(ERROR) << "--quota-wait-ms must be a positive number of milliseconds, got "
                     << absl::GetFlag(FLAGS_quota_wait_ms);
    return 2;
  }
  if (absl::GetFlag(FLAGS_quota_idle_ms) <= 0) {
    VALET_LOG(ERROR) << "--quota-idle-ms must be a positive number of milliseconds, got "
                     << absl::GetFlag(FLAGS_quota_idle_ms);
    return 2;
  }
  if (absl::GetFlag(FLAGS_report_interval_ms) < 0) {
    VALET_LOG(ERROR) << "--report-interval-ms must be 0 (no reports) or positive, got "
                     << absl::GetFlag(FLAGS_report_interval_ms);
    return 2;
  }

  // Take the signals before anything can be told our ports: a SIGTERM that arrives during start
  // is then queued for the drain below instead of killing the process.
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);

  // Declared before the server: both outlive its workers, whose rate-limit stages use the broker.
  std::unique_ptr<ControlClient> control;
  std::unique_ptr<QuotaBroker> quota;
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(options);
  if (!server.ok()) {
    VALET_LOG(ERROR) << server.status().message();
    return 1;
  }
  SnapshotStore& snapshots = (*server)->snapshots();
  auto listen = (*server)->listen_endpoint();
  auto admin = (*server)->admin_endpoint();
  std::string listen_text = FormatAddress(listen);
  std::string admin_text = FormatAddress(admin);

  // Standalone: the conf dir is the config source; each good load is a new version.
  auto load_conf_dir = [&]() -> absl::Status {
    absl::StatusOr<std::vector<SourcedApp>> apps = LoadConfDir(conf_dir);
    if (!apps.ok()) {
      (*server)->metrics().config_reloads_failed().fetch_add(1, std::memory_order_relaxed);
      return apps.status();
    }
    v1::ConfigSnapshot snapshot;
    snapshot.set_version(snapshots.version() + 1);
    for (SourcedApp& app : *apps) *snapshot.add_apps() = std::move(app.app);
    return snapshots.Install(snapshot);
  };

  if (!conf_dir.empty()) {
    if (absl::Status s = load_conf_dir(); !s.ok()) {
      VALET_LOG(ERROR) << "refusing to start: the conf dir " << conf_dir << " is invalid:\n"
                       << s.message();
      return 1;
    }
  } else {
    ControlClientOptions client_options;
    for (absl::string_view target : absl::StrSplit(control_plane, ',', absl::SkipEmpty())) {
      client_options.targets.emplace_back(target);
    }
    client_options.id = absl::GetFlag(FLAGS_id);
    if (client_options.id.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof(host) - 1);
      client_options.id = absl::StrCat(host, ":", listen.port());
    }
    client_options.address = listen_text;
    client_options.token_file = absl::GetFlag(FLAGS_token_file);
    if (!client_options.token_file.empty()) {
      // Read once now so that a wrong path stops the start instead of every attach.
      if (absl::StatusOr<std::string> token = ReadTokenFile(client_options.token_file);
          !token.ok()) {
        VALET_LOG(ERROR) << token.status().message();
        return 2;
      }
    }
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = MakeChannelCredentials(
        {absl::GetFlag(FLAGS_control_tls_ca), absl::GetFlag(FLAGS_control_tls_cert),
         absl::GetFlag(FLAGS_control_tls_key), "--control-tls-"});
    if (!credentials.ok()) {
      VALET_LOG(ERROR) << credentials.status().message();
      return 2;
    }
    client_options.credentials = std::move(*credentials);
    client_options.cache_dir = absl::GetFlag(FLAGS_cache_dir);
    client_options.min_backoff = absl::Milliseconds(absl::GetFlag(FLAGS_control_backoff_min_ms));
    client_options.max_backoff = absl::Milliseconds(absl::GetFlag(FLAGS_control_backoff_max_ms));
    client_options.report_interval = absl::Milliseconds(absl::GetFlag(FLAGS_report_interval_ms));
    // Global rate limits: budgets compiled from here on spend quota granted over the stream.
    quota = std::make_unique<QuotaBroker>(
        [&control](v1::DataPlaneMessage message) {
          return control != nullptr && control->Send(std::move(message));
        },
        std::chrono::milliseconds(absl::GetFlag(FLAGS_quota_wait_ms)),
        std::chrono::milliseconds(absl::GetFlag(FLAGS_quota_idle_ms)));
    (*server)->limits().set_broker(quota.get());
    if (!client_options.cache_dir.empty()) {
      // Serve the last good snapshot at once; the control plane replaces it when it answers.
      absl::StatusOr<v1::ConfigSnapshot> cached = LoadSnapshotCache(client_options.cache_dir);
      if (cached.ok()) {
        absl::Status s = snapshots.Install(*cached);
        if (s.ok()) {
          // Each worker swaps it in before its first connection ("serving config version N").
          VALET_LOG(INFO) << "starting from the cached snapshot version " << cached->version();
        } else {
          VALET_LOG(WARNING) << "cached snapshot in " << client_options.cache_dir
                             << " refused: " << s.message();
        }
      } else if (!absl::IsNotFound(cached.status())) {
        // Not a snapshot (empty, cut short, damaged, version 0): serving nothing is better than
        // serving part of a config. Not ready until a control plane answers.
        VALET_LOG(WARNING) << "ignoring the snapshot cache: " << cached.status().message()
                           << "; not ready until a control plane answers";
      }
    }
    control = ControlClient::Create(
        client_options,
        [&snapshots](const v1::ConfigSnapshot& s, ServedFn served) {
          return snapshots.Install(s, std::move(served));
        },
        [&snapshots] {
          return ServedVersion{snapshots.epoch(), snapshots.version()};
        },
        [&snapshots, &server, workers = options.workers] {
          v1::StatusReport report;
          report.set_version(snapshots.version());
          report.set_epoch(snapshots.epoch());
          report.set_workers(static_cast<uint32_t>(workers));
          Metrics::RequestTotals totals = (*server)->metrics().Totals();
          report.set_requests(totals.requests);
          report.set_errors(totals.errors);
          report.set_active_connections(
              (*server)->metrics().active_connections().load(std::memory_order_relaxed));
          for (const RateLimits::BudgetUsage& u : (*server)->limits().Usage(WallClock::now())) {
            v1::UsageReport::Usage* usage = report.add_limits();
            usage->mutable_budget()->set_app(u.name.app);
            usage->mutable_budget()->set_consumer(u.name.consumer);
            usage->mutable_budget()->set_for_consumer(u.name.for_consumer);
            usage->mutable_budget()->set_limit(u.limit);
            usage->mutable_budget()->set_period_seconds(u.period_seconds);
            usage->set_window(u.window);
            usage->set_spent(u.spent);
            usage->set_refused(u.refused.this_window);
            usage->set_refused_last_window(u.refused.last_window);
          }
          return report;
        });
  }

  if (control) {
    // Record and replay (docs/mocks.md): the control plane starts recordings, the proxy sends
    // what it captured back on the attach stream.
    ControlClient* client = control.get();
    control->set_record_handler(
        [&server](const v1::RecordStart& start) { (*server)->recorder().Start(start); });
    (*server)->recorder().set_sink(
        [client](v1::DataPlaneMessage message) { client->Send(std::move(message)); });
    control->set_stream_hooks(
        [&quota](bool attached) { attached ? quota->OnAttached() : quota->OnDetached(); },
        [&quota](const v1::ControlPlaneMessage& message) {
          if (message.has_quota_grant()) quota->OnGrant(message.quota_grant());
        });
    control->set_tick(absl::FromChrono(quota->idle()), [&quota] { quota->Sweep(); });
  }
  (*server)->Start();
  if (control) control->Start();
  std::string tls_text;
  if (!options.tls_listen.empty()) tls_text = FormatAddress((*server)->tls_listen_endpoint());
  VALET_LOG(INFO) << "listening on " << listen_text
                  << (tls_text.empty() ? "" : absl::StrCat(", https ", tls_text)) << " (admin "
                  << admin_text << ", " << options.workers << " workers)";
  if (std::string port_file = absl::GetFlag(FLAGS_port_file); !port_file.empty()) {
    absl::Status written = WriteFileAtomically(
        port_file, absl::StrCat("listen ", listen_text, "\nadmin ", admin_text, "\n",
                                tls_text.empty() ? "" : absl::StrCat("tls ", tls_text, "\n")));
    if (!written.ok()) VALET_LOG(ERROR) << "port file: " << written.message();
  }

  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      if (CertificateStore* certificates = (*server)->certificates(); certificates != nullptr) {
        // New handshakes use the new certificates; live connections keep theirs.
        if (absl::Status s = certificates->Reload(); s.ok()) {
          VALET_LOG(INFO) << "re-read " << certificates->files().size()
                          << " TLS certificates for the HTTPS listener";
        } else {
          VALET_LOG(ERROR) << "kept the TLS certificates in use: " << s.message();
        }
      }
      if (TokenAuth* tokens = (*server)->admin_tokens(); tokens != nullptr) {
        if (absl::Status s = tokens->Reload(); s.ok()) {
          VALET_LOG(INFO) << "re-read " << tokens->path() << ": " << tokens->size() << " tokens";
        } else {
          VALET_LOG(ERROR) << "kept the admin tokens in use, " << tokens->path() << " is refused:\n"
                           << s.message();
        }
      }
      if (conf_dir.empty()) {
        VALET_LOG(INFO) << "SIGHUP ignored: configs come from the control plane";
      } else {
        std::shared_ptr<const Snapshot> before = snapshots.current();
        if (absl::Status s = load_conf_dir(); s.ok()) {
          // "serving config version N" follows once every worker serves it.
          VALET_LOG(INFO) << "reloaded " << conf_dir << " as version " << snapshots.version();
          // Accepted (an empty dir is a valid set), but rarely meant: say so where operators
          // look.
          size_t had = before ? before->app_count() : 0;
          if (had > 0 && snapshots.current()->app_count() == 0) {
            VALET_LOG(WARNING) << "reload of " << conf_dir << " removed every app (" << had
                               << "): every request now gets 404 until apps are added again";
          }
        } else {
          VALET_LOG(ERROR) << "reload refused, still serving version " << snapshots.version()
                           << ":\n"
                           << s.message();
        }
      }
      signals.async_wait(on_signal);
      return;
    }
    VALET_LOG(INFO) << "draining (signal " << signo << "); a second signal exits at once";
    // Give the signals back to their default action: a second one ends the process.
    boost::system::error_code ignored;
    signals.clear(ignored);
    signals_io.stop();
  };
  signals.async_wait(on_signal);
  signals_io.run();

  if (control) control->Stop();
  bool clean = (*server)->Drain(std::chrono::milliseconds(absl::GetFlag(FLAGS_drain_timeout_ms)));
  VALET_LOG(INFO) << (clean ? "drained; bye" : "drain deadline passed; bye");
  return 0;
}

}  // namespace
}  // namespace valet

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "valet-dataplane (--conf-dir DIR | --control-plane HOST:PORT [--cache-dir DIR]) "
      "[--listen HOST:PORT] [--admin-listen HOST:PORT] [--workers N]");
  valet::ParseFlags(argc, argv);
  valet::SetLogProgramName("dataplane");
  if (absl::GetFlag(FLAGS_verbose)) valet::SetMinLogSeverity(valet::LogSeverity::kDebug);
  std::signal(SIGPIPE, SIG_IGN);
  return valet::Run();
}
