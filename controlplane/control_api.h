// The logic of the control API, once, for both front ends: the gRPC ControlService and the REST
// admin map their requests onto these calls and their absl::Status onto their own error forms.
//
// Errors: INVALID_ARGUMENT carrying the list of validation errors (common/validation_errors.h;
// the message has one "SOURCE: json.path: reason" per line) for a refused change,
// FAILED_PRECONDITION for a stale expected_version, NOT_FOUND for an unknown app.
// Threading: thread-safe; calls block only on the AppStore's disk writes.
// Lifetime: `store` and `registry` outlive this object.
#ifndef VALET_CONTROLPLANE_CONTROL_API_H_
#define VALET_CONTROLPLANE_CONTROL_API_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controlplane/app_store.h"
#include "controlplane/attach_service.h"
#include "controlplane/change_runner.h"
#include "controlplane/dataplane_registry.h"
#include "controlplane/mock_recorder.h"
#include "controlplane/quota/quota_ledger.h"
#include "valet/v1/control.pb.h"

namespace valet {

inline constexpr absl::Duration kDefaultWaitTimeout = absl::Seconds(30);
inline constexpr absl::Duration kMaxWaitTimeout = absl::Minutes(10);
inline constexpr uint32_t kDefaultRecordTimeoutMs = 60000;
inline constexpr uint32_t kMaxRecordTimeoutMs = 600000;

class ControlApi {
 public:
  ControlApi(AppStore* store, DataplaneRegistry* registry) : store_(store), registry_(registry) {}

  AppStore* store() const { return store_; }
  DataplaneRegistry* registry() const { return registry_; }

  // Apps as answers show them: secrets redacted (common/secret_redaction.h), here and only here.
  v1::ListAppsResponse ListApps() const;
  absl::StatusOr<v1::GetAppResponse> GetApp(const v1::GetAppRequest& request) const;
  // `source` names the request's apps in errors: "SOURCE[I]" for each app, or SOURCE alone when
  // there is one app and `source` is not "apps".
  absl::StatusOr<v1::ApplyAppsResponse> ApplyApps(const v1::ApplyAppsRequest& request,
                                                  const std::string& source = "apps");
  absl::StatusOr<v1::DeleteAppResponse> DeleteApp(const v1::DeleteAppRequest& request);
  absl::StatusOr<v1::ReloadResponse> Reload();
  // Adds recorded mocks to the app (one for a method and path replaces the app's mock for the same
  // method and path; a later one of `mocks` replaces an earlier). Returns the new version, or the
  // current one when `mocks` is empty.
  absl::StatusOr<uint64_t> AddMocks(const std::string& name, const std::vector<v1::Mock>& mocks);
  // Sets the app's mockMode through the store, like an apply of the app with only that field
  // changed. No new version if the app is already in that mode.
  absl::StatusOr<v1::SetMockModeResponse> SetMockMode(const v1::SetMockModeRequest& request);
  v1::ValidateResponse Validate(const v1::ValidateRequest& request) const;
  v1::GetVersionResponse GetVersion() const;
  v1::ListDataPlanesResponse ListDataPlanes() const;

  // Answers through `done` (maybe before returning); an error only for a bad request. Returns the
  // registry's wait id while the wait is pending (for DataplaneRegistry::CancelWait), else 0.
  using WaitDone = std::function<void(absl::StatusOr<v1::WaitForVersionResponse>)>;
  uint64_t WaitForVersion(const v1::WaitForVersionRequest& request, WaitDone done);
  // Every rate-limit budget of the served apps (or of request.app; NOT_FOUND if there is no such
  // app), with the ledger's view of its current window.
  absl::StatusOr<v1::GetLimitsResponse> GetLimits(const v1::GetLimitsRequest& request) const;

  // Record and replay (docs/mocks.md): asks every attached data plane to capture the app's next
  // request.count() answers and stores them as mocks (on `changes`, like every change) when they
  // came or at the timeout. Answers through `done`, once, from any thread (maybe before
  // returning): INVALID_ARGUMENT for a bad count, NOT_FOUND for an unknown app,
  // FAILED_PRECONDITION when no data plane is attached, UNAVAILABLE without recording set up or
  // while shutting down.
  using RecordDone = std::function<void(absl::StatusOr<v1::RecordMocksResponse>)>;
  void RecordMocks(const v1::RecordMocksRequest& request, RecordDone done);

  // The global rate-limit ledger GetLimits reads; null: every budget shows nothing used.
  void set_quota(const QuotaLedger* quota) { quota_ = quota; }
  // Where record requests go out, recorded answers come in, and their mocks are stored. Without
  // them (tests of the API alone) RecordMocks is UNAVAILABLE. Set before serving.
  void set_recording(AttachService* attach, MockRecorder* recorder, ChangeRunner* changes) {
    attach_ = attach;
    recorder_ = recorder;
    changes_ = changes;
  }

 private:
  AppStore* const store_;
  DataplaneRegistry* const registry_;
  const QuotaLedger* quota_ = nullptr;
  AttachService* attach_ = nullptr;
  MockRecorder* recorder_ = nullptr;
  ChangeRunner* changes_ = nullptr;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CONTROL_API_H_
