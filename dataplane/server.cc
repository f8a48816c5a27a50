#include "dataplane/server.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/listen_address.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace valet {

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ProxyOptions& options) {
  std::unique_ptr<Server> server(new Server(options));
  ASSIGN_OR_RETURN(boost::asio::ip::tcp::endpoint listen, ParseListenAddress(options.listen));

  int workers = std::max(1, options.workers);
  std::vector<Worker*> raw_workers;
  for (int i = 0; i < workers; ++i) {
    server->workers_.push_back(
        std::make_unique<Worker>(i, server->options_, server->metrics_, server->recorder_));
    raw_workers.push_back(server->workers_.back().get());
  }
  if (!options.tls_listen.empty()) {
    // Certificates first: a bad file stops the start before any port is bound.
    ASSIGN_OR_RETURN(server->certificates_, CertificateStore::Load(options.tls_certificates));
  }
  ASSIGN_OR_RETURN(server->listener_, Listener::Bind(raw_workers, listen));
  if (!options.tls_listen.empty()) {
    absl::StatusOr<boost::asio::ip::tcp::endpoint> tls_listen =
        ParseListenAddress(options.tls_listen);
    if (!tls_listen.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-listen: ", tls_listen.status().message()));
    }
    ASSIGN_OR_RETURN(server->tls_listener_,
                     Listener::Bind(raw_workers, *tls_listen, server->certificates_));
  }
  server->snapshots_ = std::make_unique<SnapshotStore>(raw_workers, server->metrics_,
                                                       server->limits_, options.max_apps);

  if (!options.admin_tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<TokenAuth>> tokens = TokenAuth::Load(options.admin_tokens_file);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin-tokens-file: ", tokens.status().message()));
    }
    server->admin_tokens_ = std::move(*tokens);
  }
  // The admin listener serves from now on: /healthz answers while the proxy starts up.
  AdminHttpServer::Options admin_options;
  admin_options.server_name = "valet-dataplane";
  admin_options.max_body_bytes = 4096;  // It answers GET and HEAD; anything else gets 405.
  Server* raw = server.get();
  ASSIGN_OR_RETURN(server->admin_,
                   AdminHttpServer::Start(options.admin_listen, admin_options,
                                          [raw](const AdminRequest& request, auto done) {
                                            done(raw->HandleAdmin(request));
                                            return AdminHttpServer::Cancel();
                                          }));
  return server;
}

Server::~Server() {
  // A server that Create gave up on half-built has no listener yet; its workers never started.
  if (listener_ != nullptr && admin_ != nullptr && !stopped_) Drain(std::chrono::milliseconds(0));
}

boost::asio::ip::tcp::endpoint Server::listen_endpoint() const {
  return listener_->local_endpoint();
}

boost::asio::ip::tcp::endpoint Server::tls_listen_endpoint() const {
  return tls_listener_ ? tls_listener_->local_endpoint() : boost::asio::ip::tcp::endpoint();
}

void Server::Start() {
  for (auto& worker : workers_) worker->Start();
  listener_->Start();
  if (tls_listener_) tls_listener_->Start();
}

size_t Server::SessionCount() const {
  size_t n = 0;
  for (const auto& worker : workers_) n += worker->session_count();
  return n;
}

bool Server::Drain(std::chrono::milliseconds timeout) {
  stopped_ = true;
  draining_ = true;
  listener_->Stop();
  if (tls_listener_) tls_listener_->Stop();
  for (auto& worker : workers_) worker->Drain();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (SessionCount() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  size_t cut = SessionCount();
  if (cut > 0) VALET_LOG(WARNING) << "drain timed out; closing " << cut << " connections";
  for (auto& worker : workers_) worker->Stop();
  admin_->Stop();
  return cut == 0;
}

AdminResponse Server::HandleAdmin(const AdminRequest& request) {
  constexpr const char* kText = "text/plain; charset=utf-8";
  if (request.method != "GET" && request.method != "HEAD") {
    return {405, "only GET and HEAD\n", kText, "GET, HEAD"};
  }
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  if (path == "/healthz") return {200, "ok\n", kText};
  if (path == "/readyz") {
    if (draining_) return {503, "not ready: draining\n", kText};
    std::shared_ptr<const Snapshot> current = snapshots_->current();
    if (current == nullptr) return {503, "not ready: no config snapshot yet\n", kText};
    return {200, absl::StrCat("ready: config version ", current->version(), "\n"), kText};
  }
  if (path == "/metrics") {
    if (admin_tokens_ != nullptr) {
      AuthResult auth = admin_tokens_->Check(request.authorization, TokenRole::kRead, "/metrics");
      if (!auth.status.ok()) {
        const bool unauthenticated = auth.status.code() == absl::StatusCode::kUnauthenticated;
        VALET_LOG(WARNING) << "refused /metrics ("
                           << (auth.token_name.empty() ? std::string("no valid token")
                                                       : "token " + auth.token_name)
                           << "): " << auth.status.message();
        return {unauthenticated ? 401 : 403, absl::StrCat(auth.status.message(), "\n"), kText};
      }
    }
    return {200, metrics_.RenderPrometheus() + limits_.RenderPrometheus(),
            "text/plain; version=0.0.4; charset=utf-8"};
  }
  return {404, "not found: try /healthz, /readyz or /metrics\n", kText};
}

}  // namespace valet
