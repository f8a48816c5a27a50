#include "controlplane/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace valet {

absl::StatusOr<std::unique_ptr<ControlPlaneServer>> ControlPlaneServer::Start(
    const ControlPlaneOptions& options) {
  std::string host;
  uint16_t port = 0;
  RETURN_IF_ERROR(SplitHostPort(options.grpc_listen, &host, &port));

  std::unique_ptr<ControlPlaneServer> s(new ControlPlaneServer());
  ASSIGN_OR_RETURN(s->store_, AppStore::Open(options.conf_dir));
  s->registry_ = std::make_unique<DataplaneRegistry>();
  s->api_ = std::make_unique<ControlApi>(s->store_.get(), s->registry_.get());
  s->attach_ = std::make_unique<AttachService>(s->store_.get(), s->registry_.get());
  s->control_ = std::make_unique<ControlService>(s->api_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(options.grpc_listen, grpc::InsecureServerCredentials(), &bound_port);
  // Data planes ping every 20 s to notice a dead control plane; accept pings that often.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.RegisterService(s->attach_.get());
  builder.RegisterService(s->control_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.grpc_listen));
  }
  s->grpc_address_ = absl::StrCat(host.find(':') != std::string::npos ? "[" + host + "]" : host,
                                  ":", bound_port);
  if (!options.http_listen.empty()) {
    absl::StatusOr<std::unique_ptr<RestAdmin>> admin =
        RestAdmin::Start(s->api_.get(), options.http_listen);
    if (!admin.ok()) {
      s->Shutdown(absl::ZeroDuration());
      return admin.status();
    }
    s->admin_ = std::move(*admin);
    s->http_address_ = s->admin_->bound_address();
  }
  return s;
}

ControlPlaneServer::~ControlPlaneServer() { Shutdown(); }

void ControlPlaneServer::Shutdown(absl::Duration grace) {
  if (admin_ != nullptr) admin_->Stop();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
    server_.reset();
  }
}

}  // namespace valet
