#include "controlplane/control_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/message_limits.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

// Finishes a unary call with `result`'s value in *response, or its error.
template <typename T>
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context, absl::StatusOr<T> result,
                                 T* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) {
    *response = std::move(*result);
    reactor->Finish(grpc::Status::OK);
  } else {
    reactor->Finish(ToGrpcStatus(result.status()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

grpc::Status ControlService::Authorize(const grpc::CallbackServerContext* context,
                                       std::string_view name) const {
  if (auth_ == nullptr) return grpc::Status::OK;
  std::string method = "/" + std::string(v1::ControlService::service_full_name()) + "/";
  method.append(name);
  return auth_->Authorize(*context, method);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()),
                      GrpcStatusDetails(status));
}

class ControlService::WatchReactor final : public grpc::ServerWriteReactor<v1::VersionEvent> {
 public:
  explicit WatchReactor(AppStore* store) : store_(store) {
    // Subscribe first, then read the version: nothing falls between the two.
    listener_id_ = store_->Subscribe([this](const StoreChange& change) { Push(change); });
    uint64_t current = store_->version();
    bool write;
    {
      absl::MutexLock lock(&mu_);
      while (!queue_.empty() && queue_.front().version() <= current) queue_.pop_front();
      v1::VersionEvent first;
      first.set_version(current);
      queue_.push_front(std::move(first));
      last_version_ = queue_.back().version();
      started_ = true;
      write = WriteNextLocked();
    }
    if (write) StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    bool write = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) done_ = true;
      write = WriteNextLocked();
      if (!write) finish = MaybeFinishLocked();
    }
    if (write) StartWrite(&out_);
    if (finish) Finish(finish_status_);
  }

  void OnCancel() override {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      finish = MaybeFinishLocked();
    }
    if (finish) Finish(finish_status_);
  }

  void OnDone() override {
    store_->Unsubscribe(listener_id_);  // No Push runs or follows once this returns.
    delete this;
  }

 private:
  void Push(const StoreChange& change) {
    bool write = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      // The version read in the constructor may already be this one (the store publishes the
      // state before it calls listeners): never send a version twice.
      if (done_ || (started_ && change.version <= last_version_)) return;
      last_version_ = change.version;
      if (queue_.size() >= kMaxQueuedEvents) {
        queue_.clear();
        done_ = true;
        finish_status_ =
            grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "watcher fell too far behind");
        finish = MaybeFinishLocked();
      } else {
        v1::VersionEvent event;
        event.set_version(change.version);
        for (const std::string& n : change.changed_apps) event.add_changed_apps(n);
        for (const std::string& n : change.deleted_apps) event.add_deleted_apps(n);
        queue_.push_back(std::move(event));
        write = WriteNextLocked();
      }
    }
    if (write) StartWrite(&out_);
    // Finish on the publisher's thread is fine: it only queues the op.
    if (finish) Finish(finish_status_);
  }

  // Moves the next event into out_ if no write is in flight; true if the caller must StartWrite.
  bool WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!started_ || writing_ || done_ || queue_.empty()) return false;
    out_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    return true;
  }

  bool MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || !done_) return false;
    finished_ = true;
    return true;
  }

  AppStore* const store_;
  int listener_id_ = 0;
  absl::Mutex mu_;
  std::deque<v1::VersionEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;       // The first event is queued.
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;  // Of the last event queued.
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ = grpc::Status::OK;  // Set before finished_, read after.
  v1::VersionEvent out_;
};

grpc::ServerUnaryReactor* ControlService::ListApps(grpc::CallbackServerContext* context,
                                                   const v1::ListAppsRequest*,
                                                   v1::ListAppsResponse* response) {
  if (grpc::Status denied = Authorize(context, "ListApps"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer<v1::ListAppsResponse>(context, api_->ListApps(), response);
}

grpc::ServerUnaryReactor* ControlService::GetApp(grpc::CallbackServerContext* context,
                                                 const v1::GetAppRequest* request,
                                                 v1::GetAppResponse* response) {
  if (grpc::Status denied = Authorize(context, "GetApp"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer(context, api_->GetApp(*request), response);
}

template <typename T>
grpc::ServerUnaryReactor* ControlService::AnswerAfterChange(
    grpc::CallbackServerContext* context, std::function<absl::StatusOr<T>()> change, T* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The request and response live until Finish; a cancelled call is still finished (gRPC drops
  // the answer), after its change ran: a change is never half done.
  changes_->Post([reactor, change = std::move(change), response] {
    absl::StatusOr<T> result = change();
    if (result.ok()) {
      *response = std::move(*result);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(result.status()));
    }
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::ApplyApps(grpc::CallbackServerContext* context,
                                                    const v1::ApplyAppsRequest* request,
                                                    v1::ApplyAppsResponse* response) {
  if (grpc::Status denied = Authorize(context, "ApplyApps"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return AnswerAfterChange<v1::ApplyAppsResponse>(
      context, [this, request] { return api_->ApplyApps(*request); }, response);
}

grpc::ServerUnaryReactor* ControlService::DeleteApp(grpc::CallbackServerContext* context,
                                                    const v1::DeleteAppRequest* request,
                                                    v1::DeleteAppResponse* response) {
  if (grpc::Status denied = Authorize(context, "DeleteApp"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return AnswerAfterChange<v1::DeleteAppResponse>(
      context, [this, request] { return api_->DeleteApp(*request); }, response);
}

grpc::ServerUnaryReactor* ControlService::RecordMocks(grpc::CallbackServerContext* context,
                                                      const v1::RecordMocksRequest* request,
                                                      v1::RecordMocksResponse* response) {
  if (grpc::Status denied = Authorize(context, "RecordMocks"); !denied.ok()) {
    return Refuse(context, denied);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The response lives until Finish; a cancelled call still gets its mocks stored.
  api_->RecordMocks(*request, [reactor, response](absl::StatusOr<v1::RecordMocksResponse> result) {
    if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
    *response = std::move(*result);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::SetMockMode(grpc::CallbackServerContext* context,
                                                      const v1::SetMockModeRequest* request,
                                                      v1::SetMockModeResponse* response) {
  if (grpc::Status denied = Authorize(context, "SetMockMode"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return AnswerAfterChange<v1::SetMockModeResponse>(
      context, [this, request] { return api_->SetMockMode(*request); }, response);
}

grpc::ServerUnaryReactor* ControlService::Reload(grpc::CallbackServerContext* context,
                                                 const v1::ReloadRequest*,
                                                 v1::ReloadResponse* response) {
  if (grpc::Status denied = Authorize(context, "Reload"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return AnswerAfterChange<v1::ReloadResponse>(
      context, [this] { return api_->Reload(); }, response);
}

grpc::ServerUnaryReactor* ControlService::Validate(grpc::CallbackServerContext* context,
                                                   const v1::ValidateRequest* request,
                                                   v1::ValidateResponse* response) {
  if (grpc::Status denied = Authorize(context, "Validate"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer<v1::ValidateResponse>(context, api_->Validate(*request), response);
}

grpc::ServerUnaryReactor* ControlService::GetVersion(grpc::CallbackServerContext* context,
                                                     const v1::GetVersionRequest*,
                                                     v1::GetVersionResponse* response) {
  if (grpc::Status denied = Authorize(context, "GetVersion"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer<v1::GetVersionResponse>(context, api_->GetVersion(), response);
}

grpc::ServerUnaryReactor* ControlService::ListDataPlanes(grpc::CallbackServerContext* context,
                                                         const v1::ListDataPlanesRequest*,
                                                         v1::ListDataPlanesResponse* response) {
  if (grpc::Status denied = Authorize(context, "ListDataPlanes"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer<v1::ListDataPlanesResponse>(context, api_->ListDataPlanes(), response);
}

grpc::ServerUnaryReactor* ControlService::GetLimits(grpc::CallbackServerContext* context,
                                                    const v1::GetLimitsRequest* request,
                                                    v1::GetLimitsResponse* response) {
  if (grpc::Status denied = Authorize(context, "GetLimits"); !denied.ok()) {
    return Refuse(context, denied);
  }
  return Answer<v1::GetLimitsResponse>(context, api_->GetLimits(*request), response);
}

grpc::ServerWriteReactor<v1::VersionEvent>* ControlService::WatchVersions(
    grpc::CallbackServerContext* context, const v1::WatchVersionsRequest*) {
  if (grpc::Status denied = Authorize(context, "WatchVersions"); !denied.ok()) {
    return new RefusedWriteReactor<v1::VersionEvent>(denied);
  }
  return new WatchReactor(api_->store());
}

// WaitForVersion's reactor: answers when the registry does; a cancelled call (client gone,
// deadline, server shutdown) removes its wait from the registry and finishes at once.
class ControlService::WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(ControlApi* api, v1::WaitForVersionResponse* response)
      : api_(api), response_(response) {}

  // Called by the handler before it returns the reactor (so before any OnCancel).
  void Start(const v1::WaitForVersionRequest& request) {
    uint64_t id = api_->WaitForVersion(
        request, [this](absl::StatusOr<v1::WaitForVersionResponse> result) { Answer(result); });
    absl::MutexLock lock(&mu_);
    wait_id_ = id;
  }

  void OnCancel() override {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      id = wait_id_;
    }
    // Not pending any more: its answer runs (or ran) and finishes the call.
    if (id == 0 || !api_->registry()->CancelWait(id)) return;
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "wait cancelled"));
  }

  void OnDone() override { delete this; }

 private:
  void Answer(absl::StatusOr<v1::WaitForVersionResponse>& result) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    if (result.ok()) {
      *response_ = std::move(*result);
      Finish(grpc::Status::OK);
    } else {
      Finish(ToGrpcStatus(result.status()));
    }
  }

  ControlApi* const api_;
  v1::WaitForVersionResponse* const response_;
  absl::Mutex mu_;
  uint64_t wait_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerUnaryReactor* ControlService::WaitForVersion(grpc::CallbackServerContext* context,
                                                         const v1::WaitForVersionRequest* request,
                                                         v1::WaitForVersionResponse* response) {
  if (grpc::Status denied = Authorize(context, "WaitForVersion"); !denied.ok()) {
    return Refuse(context, denied);
  }
  auto* reactor = new WaitReactor(api_, response);
  reactor->Start(*request);
  return reactor;
}

}  // namespace valet
