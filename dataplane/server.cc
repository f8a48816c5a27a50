#include "dataplane/server.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace valet {

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ProxyOptions& options) {
  std::unique_ptr<Server> server(new Server(options));
  ASSIGN_OR_RETURN(boost::asio::ip::tcp::endpoint listen, ParseListenAddress(options.listen));
  ASSIGN_OR_RETURN(boost::asio::ip::tcp::endpoint admin, ParseListenAddress(options.admin_listen));

  int workers = std::max(1, options.workers);
  std::vector<Worker*> raw_workers;
  for (int i = 0; i < workers; ++i) {
    server->workers_.push_back(std::make_unique<Worker>(i, server->options_, server->metrics_));
    raw_workers.push_back(server->workers_.back().get());
  }
  ASSIGN_OR_RETURN(server->listener_, Listener::Bind(raw_workers, listen));
  server->snapshots_ = std::make_unique<SnapshotStore>(raw_workers, server->metrics_, options.max_apps);
  Server* raw = server.get();
  ASSIGN_OR_RETURN(server->admin_,
                   AdminServer::Create(admin, [raw](std::string_view path) {
                     return raw->HandleAdmin(path);
                   }));
  return server;
}

Server::~Server() {
  if (!stopped_) Drain(std::chrono::milliseconds(0));
}

boost::asio::ip::tcp::endpoint Server::listen_endpoint() const {
  return listener_->local_endpoint();
}

boost::asio::ip::tcp::endpoint Server::admin_endpoint() const { return admin_->local_endpoint(); }

void Server::Start() {
  for (auto& worker : workers_) worker->Start();
  listener_->Start();
  admin_->Start();
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

AdminResponse Server::HandleAdmin(std::string_view path) {
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    uint64_t version = snapshots_->version();
    if (draining_) return {503, "text/plain; charset=utf-8", "not ready: draining\n"};
    if (snapshots_->current() == nullptr) {
      return {503, "text/plain; charset=utf-8", "not ready: no config snapshot yet\n"};
    }
    return {200, "text/plain; charset=utf-8", absl::StrCat("ready: config version ", version, "\n")};
  }
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.RenderPrometheus()};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /healthz, /readyz or /metrics\n"};
}

}  // namespace valet
