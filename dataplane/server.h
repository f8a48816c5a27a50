// The data plane's proxy server: worker threads, their listeners, the snapshot store and the
// admin listener, started and drained together.
#ifndef VALET_DATAPLANE_SERVER_H_
#define VALET_DATAPLANE_SERVER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/ip/tcp.hpp"
#include "common/admin_http_server.h"
#include "common/token_auth.h"
#include "dataplane/limits/rate_limits.h"
#include "dataplane/listener.h"
#include "dataplane/metrics.h"
#include "dataplane/mocks/answer_recorder.h"
#include "dataplane/options.h"
#include "dataplane/snapshot_store.h"
#include "dataplane/tls/certificate_store.h"
#include "dataplane/worker.h"

namespace valet {

class Server {
 public:
  // Binds every listener (so ports are known before Start); the admin listener serves at once,
  // the proxy listener from Start.
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ProxyOptions& options);
  ~Server();

  boost::asio::ip::tcp::endpoint listen_endpoint() const;
  // The HTTPS listener's; a default endpoint when there is none.
  boost::asio::ip::tcp::endpoint tls_listen_endpoint() const;
  // Null without --tls-listen.
  CertificateStore* certificates() { return certificates_.get(); }
  boost::asio::ip::tcp::endpoint admin_endpoint() const { return admin_->local_endpoint(); }
  SnapshotStore& snapshots() { return *snapshots_; }
  Metrics& metrics() { return metrics_; }
  // Record and replay (docs/mocks.md): what the control client starts, what the proxy feeds.
  AnswerRecorder& recorder() { return recorder_; }
  RateLimits& limits() { return limits_; }
  // Null without --admin-tokens-file.
  TokenAuth* admin_tokens() { return admin_tokens_.get(); }

  void Start();

  // Stops accepting, closes idle connections, lets requests in flight finish for at most
  // `timeout`, then stops every thread. True if nothing was cut short.
  bool Drain(std::chrono::milliseconds timeout);

 private:
  explicit Server(const ProxyOptions& options) : options_(options) {}
  // /healthz, /readyz, /metrics.
  AdminResponse HandleAdmin(const AdminRequest& request);
  size_t SessionCount() const;

  ProxyOptions options_;
  Metrics metrics_;
  AnswerRecorder recorder_;  // Before workers_: they hold a reference.
  RateLimits limits_;        // Rate-limit budgets, kept across snapshots like metrics_.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<Listener> listener_;
  std::shared_ptr<CertificateStore> certificates_;
  std::shared_ptr<Listener> tls_listener_;  // Null without --tls-listen.
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<TokenAuth> admin_tokens_;  // Before admin_: outlives its handler.
  std::unique_ptr<AdminHttpServer> admin_;
  bool stopped_ = false;
  std::atomic<bool> draining_{false};  // /readyz answers 503 from the start of a drain.
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SERVER_H_
