// ControlPlaneServer: the whole control plane wired together (store, registry, attach stream,
// control API over gRPC, REST admin), as valet-controlplane runs it and as tests start it in
// process.
//
// Start holds the conf dir's lock (ConfDirLock: one control plane per dir) until destruction and
// binds the gRPC port exclusively (no SO_REUSEPORT: a second control plane on the port fails).
// Health (grpc.health.v1): "", "valet.v1.ControlService" and "valet.v1.AttachService" are SERVING
// from Start and NOT_SERVING from the start of Shutdown.
// Lifetime: Start binds both listeners and serves; Shutdown (or the destructor) reports
// NOT_SERVING, stops the REST admin, answers every pending WaitForVersion, then shuts the gRPC
// server down (streams are cancelled at the deadline; changes in progress complete and answer),
// then the rest.
#ifndef VALET_CONTROLPLANE_SERVER_H_
#define VALET_CONTROLPLANE_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls_files.h"
#include "common/token_auth.h"
#include "controlplane/app_store.h"
#include "controlplane/attach_service.h"
#include "controlplane/call_auth.h"
#include "controlplane/change_runner.h"
#include "controlplane/conf_dir_lock.h"
#include "controlplane/control_api.h"
#include "controlplane/control_service.h"
#include "controlplane/dataplane_registry.h"
#include "controlplane/quota/quota_ledger.h"
#include "controlplane/rest_admin.h"
#include "grpcpp/server.h"

namespace valet {

struct ControlPlaneOptions {
  std::string conf_dir;
  std::string grpc_listen = "127.0.0.1:9090";  // ":PORT" means every interface.
  std::string http_listen = "127.0.0.1:9091";  // Empty: no REST admin.
  // Security (docs/security.md). Beyond loopback, Start refuses to listen without TLS and tokens
  // unless `insecure` (controlplane/listen_policy.h).
  std::string tokens_file;  // Empty: no token check.
  TlsServerFiles tls;       // cert + key: the gRPC port speaks TLS; client_ca: mTLS.
  absl::Duration tls_refresh = absl::Seconds(10);  // How often the TLS files are re-read.
  bool insecure = false;
  // Per connection: streams open at once (more wait for one to end), and the largest metadata.
  int max_concurrent_streams = 100;
  int max_metadata_bytes = 16 << 10;
  // Keepalive of the gRPC server: it pings each connection idle for keepalive_time and drops it
  // (marking its data plane disconnected) without an answer within keepalive_timeout. Clients may
  // ping as often as every min_ping_interval without data (data planes ping every 10 s).
  absl::Duration keepalive_time = absl::Seconds(20);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration min_ping_interval = absl::Seconds(5);
  // Test only: every config change sleeps this long before it writes to the conf dir (a slow
  // disk; valet-controlplane's --debug-write-delay-ms), then calls debug_before_write if set
  // (AppStoreOptions::before_write).
  absl::Duration debug_write_delay = absl::ZeroDuration();
  std::function<void()> debug_before_write;
};

class ControlPlaneServer {
 public:
  static absl::StatusOr<std::unique_ptr<ControlPlaneServer>> Start(
      const ControlPlaneOptions& options);
  ~ControlPlaneServer();
  ControlPlaneServer(const ControlPlaneServer&) = delete;
  ControlPlaneServer& operator=(const ControlPlaneServer&) = delete;

  // "HOST:PORT" actually bound.
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

  AppStore* store() const { return store_.get(); }
  DataplaneRegistry* registry() const { return registry_.get(); }
  ControlApi* api() const { return api_.get(); }
  // Null without --tokens-file.
  TokenAuth* tokens() const { return tokens_.get(); }

  // Re-reads the tokens file (SIGHUP). On an error the old tokens stay; the error says why.
  absl::Status ReloadTokens();

  // Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(2));

 private:
  ControlPlaneServer() = default;

  std::unique_ptr<ConfDirLock> lock_;  // Declared first: released last.
  std::unique_ptr<AppStore> store_;
  std::unique_ptr<TokenAuth> tokens_;
  std::unique_ptr<CallAuthorizer> authorizer_;
  std::unique_ptr<DataplaneRegistry> registry_;
  std::unique_ptr<QuotaLedger> quota_;  // Global rate limits: grants over the attach stream.
  std::unique_ptr<ControlApi> api_;
  std::unique_ptr<AttachService> attach_;
  std::unique_ptr<ChangeRunner> changes_;   // Stopped once server_ is shut down.
  std::unique_ptr<MockRecorder> recorder_;  // Stopped before server_ shuts down.
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RestAdmin> admin_;
  std::string grpc_address_;
  std::string http_address_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_SERVER_H_
