#include "controlplane/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/listen_address.h"
#include "common/message_limits.h"
#include "common/status_macros.h"
#include "controlplane/listen_policy.h"

namespace valet {

absl::StatusOr<std::unique_ptr<ControlPlaneServer>> ControlPlaneServer::Start(
    const ControlPlaneOptions& options) {
  // The same address forms as every Valet listener (":PORT" is every interface).
  ASSIGN_OR_RETURN(boost::asio::ip::tcp::endpoint grpc_endpoint,
                   ParseListenAddress(options.grpc_listen));
  std::string listen = FormatAddress(grpc_endpoint);

  const bool tls = !options.tls.cert.empty() || !options.tls.key.empty();
  RETURN_IF_ERROR(CheckListenPolicy({options.grpc_listen, options.http_listen, tls,
                                     !options.tokens_file.empty(), options.insecure}));
  if (!options.tls.client_ca.empty() && !tls) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls) {
    ASSIGN_OR_RETURN(credentials, MakeTlsServerCredentials(options.tls, options.tls_refresh));
  }

  std::unique_ptr<ControlPlaneServer> s(new ControlPlaneServer());
  if (!options.tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<TokenAuth>> tokens = TokenAuth::Load(options.tokens_file);
    if (!tokens.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--tokens-file: ", tokens.status().message()));
    }
    s->tokens_ = std::move(*tokens);
  }
  s->authorizer_ = std::make_unique<CallAuthorizer>(s->tokens_.get(),
                                                    /*client_certs_for_dataplanes=*/
                                                    !options.tls.client_ca.empty());
  ASSIGN_OR_RETURN(s->lock_, ConfDirLock::Acquire(options.conf_dir));
  AppStoreOptions store_options;
  if (options.debug_write_delay > absl::ZeroDuration() || options.debug_before_write) {
    store_options.before_write = [delay = options.debug_write_delay,
                                  hook = options.debug_before_write] {
      absl::SleepFor(delay);
      if (hook) hook();
    };
  }
  ASSIGN_OR_RETURN(s->store_, AppStore::Open(options.conf_dir, store_options));
  s->registry_ = std::make_unique<DataplaneRegistry>();
  s->api_ = std::make_unique<ControlApi>(s->store_.get(), s->registry_.get());
  s->attach_ = std::make_unique<AttachService>(s->store_.get(), s->registry_.get());
  s->attach_->set_authorizer(s->authorizer_.get());
  s->recorder_ = std::make_unique<MockRecorder>();
  s->attach_->set_mock_recorder(s->recorder_.get());
  s->quota_ = std::make_unique<QuotaLedger>();
  s->attach_->set_quota(s->quota_.get());
  s->api_->set_quota(s->quota_.get());
  s->changes_ = std::make_unique<ChangeRunner>();
  s->control_ =
      std::make_unique<ControlService>(s->api_.get(), s->changes_.get(), s->authorizer_.get());
  s->api_->set_recording(s->attach_.get(), s->recorder_.get(), s->changes_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen, credentials, &bound_port);
  // gRPC sets SO_REUSEPORT by default: a second control plane could then share the port and take
  // half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Notice a data plane that vanished without closing its connection (its stream then ends and
  // the registry marks it disconnected).
  auto ms = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Data planes ping every 10 s (without data: an attach stream is mostly idle); accept that.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(options.min_ping_interval));
  // A client that pings more often than that is told off (GOAWAY) after this many strikes.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  // Bounds on what one connection may hold: streams at once (more wait for one to end, they do
  // not fail), and the size of a call's metadata (larger: the call is refused, the connection
  // and the server go on).
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, options.max_metadata_bytes);
  // gRPC's 4 MiB default is less than a snapshot may be: ListApps answers, snapshots pushed to
  // data planes and ApplyApps requests all carry up to kMaxSnapshotBytes of apps. Every Valet
  // gRPC client sets the same limit (common/message_limits.h).
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  builder.RegisterService(s->attach_.get());
  builder.RegisterService(s->control_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.grpc_listen,
                                               " (in use, or not an address of this host?)"));
  }
  grpc::HealthCheckServiceInterface* health = s->server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus("", true);
    health->SetServingStatus(v1::ControlService::service_full_name(), true);
    health->SetServingStatus(v1::AttachService::service_full_name(), true);
  }
  s->grpc_address_ = FormatAddress(
      boost::asio::ip::tcp::endpoint(grpc_endpoint.address(), static_cast<uint16_t>(bound_port)));
  if (!options.http_listen.empty()) {
    absl::StatusOr<std::unique_ptr<RestAdmin>> admin =
        RestAdmin::Start(s->api_.get(), options.http_listen, s->tokens_.get());
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

absl::Status ControlPlaneServer::ReloadTokens() {
  if (tokens_ == nullptr) return absl::FailedPreconditionError("no --tokens-file to reload");
  return tokens_->Reload();
}

void ControlPlaneServer::Shutdown(absl::Duration grace) {
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
  }
  // Pending waits are answered (complete = false) while their calls, gRPC and REST, still exist;
  // the REST admin then writes those answers before it closes.
  if (registry_ != nullptr) registry_->Shutdown();
  // Pending RecordMocks calls are answered with what came (their mocks stored on the runner).
  if (recorder_ != nullptr) recorder_->Stop();
  if (admin_ != nullptr) admin_->Stop();
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
    server_.reset();
  }
  if (changes_ != nullptr) changes_->Stop();
}

}  // namespace valet
