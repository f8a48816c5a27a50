// ControlService: the gRPC control API (valetctl, automation), a thin mapping onto ControlApi.
//
// Callback API throughout: unary calls answer in the handler, except the changes (ApplyApps,
// DeleteApp, Reload, SetMockMode): those run on the ChangeRunner's thread and answer from there
// once written to the conf dir, so no gRPC callback thread waits for the disk. WaitForVersion
// answers when the registry says so without holding a thread (a cancelled wait leaves the registry
// at once; ControlPlaneServer::Shutdown has the registry answer every pending wait before the gRPC
// server shuts down), WatchVersions is a ServerWriteReactor fed by the AppStore (first event: the
// current version; then one per new version; the queue is bounded, a client that falls more than
// kMaxQueuedEvents behind is ended with RESOURCE_EXHAUSTED). Lifetime: `api` and `changes` outlive
// the service; the service outlives its grpc::Server, which must be shut down before `changes`
// stops.
#ifndef VALET_CONTROLPLANE_CONTROL_SERVICE_H_
#define VALET_CONTROLPLANE_CONTROL_SERVICE_H_

#include <functional>

#include "absl/status/status.h"
#include "controlplane/call_auth.h"
#include "controlplane/change_runner.h"
#include "controlplane/control_api.h"
#include "grpcpp/support/status.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet {

// absl::Status -> grpc::Status, same code and message; a validation error list rides along as the
// status details (common/validation_errors.h).
grpc::Status ToGrpcStatus(const absl::Status& status);

class ControlService final : public v1::ControlService::CallbackService {
 public:
  static constexpr size_t kMaxQueuedEvents = 10000;

  // `auth` (may be null: every call passes) checks each call's token before it runs; changes run
  // on `changes`, off the gRPC callback threads.
  ControlService(ControlApi* api, ChangeRunner* changes, const CallAuthorizer* auth = nullptr)
      : api_(api), changes_(changes), auth_(auth) {}

  grpc::ServerUnaryReactor* ListApps(grpc::CallbackServerContext* context,
                                     const v1::ListAppsRequest* request,
                                     v1::ListAppsResponse* response) override;
  grpc::ServerUnaryReactor* GetApp(grpc::CallbackServerContext* context,
                                   const v1::GetAppRequest* request,
                                   v1::GetAppResponse* response) override;
  grpc::ServerUnaryReactor* ApplyApps(grpc::CallbackServerContext* context,
                                      const v1::ApplyAppsRequest* request,
                                      v1::ApplyAppsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteApp(grpc::CallbackServerContext* context,
                                      const v1::DeleteAppRequest* request,
                                      v1::DeleteAppResponse* response) override;
  grpc::ServerUnaryReactor* RecordMocks(grpc::CallbackServerContext* context,
                                        const v1::RecordMocksRequest* request,
                                        v1::RecordMocksResponse* response) override;
  grpc::ServerUnaryReactor* SetMockMode(grpc::CallbackServerContext* context,
                                        const v1::SetMockModeRequest* request,
                                        v1::SetMockModeResponse* response) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context,
                                   const v1::ReloadRequest* request,
                                   v1::ReloadResponse* response) override;
  grpc::ServerUnaryReactor* Validate(grpc::CallbackServerContext* context,
                                     const v1::ValidateRequest* request,
                                     v1::ValidateResponse* response) override;
  grpc::ServerUnaryReactor* GetVersion(grpc::CallbackServerContext* context,
                                       const v1::GetVersionRequest* request,
                                       v1::GetVersionResponse* response) override;
  grpc::ServerUnaryReactor* ListDataPlanes(grpc::CallbackServerContext* context,
                                           const v1::ListDataPlanesRequest* request,
                                           v1::ListDataPlanesResponse* response) override;
  grpc::ServerWriteReactor<v1::VersionEvent>* WatchVersions(
      grpc::CallbackServerContext* context, const v1::WatchVersionsRequest* request) override;
  grpc::ServerUnaryReactor* WaitForVersion(grpc::CallbackServerContext* context,
                                           const v1::WaitForVersionRequest* request,
                                           v1::WaitForVersionResponse* response) override;
  grpc::ServerUnaryReactor* GetLimits(grpc::CallbackServerContext* context,
                                      const v1::GetLimitsRequest* request,
                                      v1::GetLimitsResponse* response) override;

 private:
  class WatchReactor;
  class WaitReactor;
  // OK, or why the caller may not call `name` (a method of this service).
  grpc::Status Authorize(const grpc::CallbackServerContext* context, std::string_view name) const;
  // Runs `change` on the ChangeRunner and answers the call with its result from there.
  template <typename T>
  grpc::ServerUnaryReactor* AnswerAfterChange(grpc::CallbackServerContext* context,
                                              std::function<absl::StatusOr<T>()> change,
                                              T* response);

  ControlApi* const api_;
  ChangeRunner* const changes_;
  const CallAuthorizer* const auth_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CONTROL_SERVICE_H_
