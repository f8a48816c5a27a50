#include "controlplane/control_api.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "common/fixed_window.h"
#include "common/message_limits.h"
#include "common/secret_redaction.h"
#include "common/status_macros.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

std::vector<SourcedApp> Sourced(const google::protobuf::RepeatedPtrField<v1::AppConfig>& apps,
                                const std::string& source) {
  std::vector<SourcedApp> out;
  out.reserve(apps.size());
  for (int i = 0; i < apps.size(); ++i) {
    std::string name =
        apps.size() == 1 && source != "apps" ? source : absl::StrCat(source, "[", i, "]");
    out.push_back({apps[i], std::move(name)});
  }
  return out;
}

}  // namespace

v1::ListAppsResponse ControlApi::ListApps() const {
  std::shared_ptr<const v1::ConfigSnapshot> snap = store_->snapshot();
  v1::ListAppsResponse response;
  response.set_version(snap->version());
  response.mutable_apps()->Reserve(snap->apps_size());
  for (const v1::AppConfig& app : snap->apps()) *response.add_apps() = RedactSecrets(app);
  return response;
}

absl::StatusOr<v1::GetAppResponse> ControlApi::GetApp(const v1::GetAppRequest& request) const {
  std::shared_ptr<const v1::ConfigSnapshot> snap = store_->snapshot();
  for (const v1::AppConfig& app : snap->apps()) {
    if (app.name() == request.name()) {
      v1::GetAppResponse response;
      response.set_version(snap->version());
      *response.mutable_app() = RedactSecrets(app);
      return response;
    }
  }
  return absl::NotFoundError(absl::StrCat("no app named \"", request.name(), "\""));
}

absl::StatusOr<v1::ApplyAppsResponse> ControlApi::ApplyApps(const v1::ApplyAppsRequest& request,
                                                            const std::string& source) {
  ChangeOptions options{request.dry_run(), request.expected_version()};
  ASSIGN_OR_RETURN(uint64_t version, store_->Apply(Sourced(request.apps(), source), options));
  v1::ApplyAppsResponse response;
  response.set_version(version);
  return response;
}

absl::StatusOr<v1::DeleteAppResponse> ControlApi::DeleteApp(const v1::DeleteAppRequest& request) {
  ChangeOptions options{request.dry_run(), request.expected_version()};
  ASSIGN_OR_RETURN(uint64_t version, store_->Delete(request.name(), options));
  v1::DeleteAppResponse response;
  response.set_version(version);
  return response;
}

absl::StatusOr<v1::ReloadResponse> ControlApi::Reload() {
  ASSIGN_OR_RETURN(uint64_t version, store_->Reload());
  v1::ReloadResponse response;
  response.set_version(version);
  return response;
}

absl::StatusOr<uint64_t> ControlApi::AddMocks(const std::string& name,
                                              const std::vector<v1::Mock>& mocks) {
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::shared_ptr<const v1::ConfigSnapshot> snap = store_->snapshot();
    const v1::AppConfig* found = nullptr;
    for (const v1::AppConfig& app : snap->apps()) {
      if (app.name() == name) found = &app;
    }
    if (found == nullptr) return absl::NotFoundError(absl::StrCat("no app named \"", name, "\""));
    if (mocks.empty()) return snap->version();
    v1::AppConfig app = *found;
    for (const v1::Mock& mock : mocks) {
      bool replaced = false;
      for (v1::Mock& existing : *app.mutable_mocks()) {
        if (existing.method() == mock.method() && existing.path() == mock.path()) {
          existing = mock;
          replaced = true;
          break;
        }
      }
      if (!replaced) *app.add_mocks() = mock;
    }
    absl::StatusOr<uint64_t> version =
        store_->Apply({{std::move(app), absl::StrCat("recorded mocks of ", name)}},
                      ChangeOptions{false, snap->version()});
    if (version.ok() || version.status().code() != absl::StatusCode::kFailedPrecondition) {
      return version;
    }
  }
  return absl::AbortedError("the app kept changing; try again");
}

absl::StatusOr<v1::SetMockModeResponse> ControlApi::SetMockMode(
    const v1::SetMockModeRequest& request) {
  // Read, change one field, apply if nothing changed in between. Changes are serialised by the
  // callers (the change runner), so a retry is for the rare change that came from elsewhere.
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::shared_ptr<const v1::ConfigSnapshot> snap = store_->snapshot();
    const v1::AppConfig* found = nullptr;
    for (const v1::AppConfig& app : snap->apps()) {
      if (app.name() == request.name()) found = &app;
    }
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat("no app named \"", request.name(), "\""));
    }
    if (request.expected_version() != 0 && request.expected_version() != snap->version()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "expected version ", request.expected_version(), ", current is ", snap->version()));
    }
    v1::SetMockModeResponse response;
    if (found->mock_mode() == request.on()) {
      response.set_version(snap->version());
      return response;
    }
    v1::AppConfig app = *found;
    app.set_mock_mode(request.on());
    ChangeOptions options{false, snap->version()};
    absl::StatusOr<uint64_t> version = store_->Apply({{std::move(app), request.name()}}, options);
    if (version.ok()) {
      response.set_version(*version);
      response.set_changed(true);
      return response;
    }
    if (version.status().code() != absl::StatusCode::kFailedPrecondition ||
        request.expected_version() != 0) {
      return version.status();
    }
  }
  return absl::AbortedError("the app kept changing; try again");
}

v1::ValidateResponse ControlApi::Validate(const v1::ValidateRequest& request) const {
  v1::ValidateResponse response;
  absl::Status status = store_->Validate(Sourced(request.apps(), "apps"));
  for (v1::ValidationError& e : ValidationErrorsOf(status)) *response.add_errors() = std::move(e);
  return response;
}

v1::GetVersionResponse ControlApi::GetVersion() const {
  v1::GetVersionResponse response;
  response.set_version(store_->version());
  return response;
}

v1::ListDataPlanesResponse ControlApi::ListDataPlanes() const {
  v1::ListDataPlanesResponse response;
  response.set_version(store_->version());
  for (v1::DataPlaneStatus& s : registry_->List()) *response.add_dataplanes() = std::move(s);
  return response;
}

absl::StatusOr<v1::GetLimitsResponse> ControlApi::GetLimits(
    const v1::GetLimitsRequest& request) const {
  std::shared_ptr<const v1::ConfigSnapshot> snap = store_->snapshot();
  const WallClock::time_point now = WallClock::now();
  v1::GetLimitsResponse response;
  auto add = [&](const v1::AppConfig& app, const v1::Consumer* consumer) {
    v1::BudgetKey key;
    key.set_app(app.name());
    uint32_t period = LimitPeriodSecondsOf(app);
    key.set_limit(app.limit_value());
    if (consumer != nullptr) {
      key.set_consumer(consumer->name());
      key.set_for_consumer(true);
      key.set_limit(consumer->limit_value());
      period = consumer->limit_period_seconds() == 0 ? kDefaultLimitPeriodSeconds
                                                     : consumer->limit_period_seconds();
    }
    key.set_period_seconds(period);
    WindowPosition at = WindowAt(now, std::chrono::seconds(period));
    QuotaLedger::Usage usage;
    if (quota_ != nullptr) usage = quota_->Query(key, at.index);
    v1::LimitStatus* status = response.add_limits();
    status->set_app(key.app());
    status->set_consumer(key.consumer());
    status->set_for_consumer(key.for_consumer());
    status->set_limit(key.limit());
    status->set_period_seconds(period);
    status->set_window(at.index);
    status->set_used(usage.used);
    status->set_remaining(usage.used < key.limit() ? key.limit() - usage.used : 0);
    status->set_reset_seconds(static_cast<uint32_t>(at.reset.count()));
    status->set_refused(usage.refused);
    status->set_refused_last_window(usage.refused_last_window);
  };
  bool found = request.app().empty();
  for (const v1::AppConfig& app : snap->apps()) {
    if (!request.app().empty() && app.name() != request.app()) continue;
    found = true;
    if (app.rate_limit() && request.consumer().empty()) add(app, nullptr);
    for (const v1::Consumer& consumer : app.consumers()) {
      if (consumer.limit_value() == 0) continue;
      if (!request.consumer().empty() && consumer.name() != request.consumer()) continue;
      add(app, &consumer);
    }
  }
  if (!found) return absl::NotFoundError(absl::StrCat("no app named \"", request.app(), "\""));
  return response;
}

uint64_t ControlApi::WaitForVersion(const v1::WaitForVersionRequest& request, WaitDone done) {
  uint64_t current = store_->version();
  uint64_t version = request.version() == 0 ? current : request.version();
  if (version > current) {
    done(absl::InvalidArgumentError(
        absl::StrCat("version ", version, " does not exist yet (current is ", current, ")")));
    return 0;
  }
  absl::Duration timeout =
      request.timeout_ms() == 0 ? kDefaultWaitTimeout : absl::Milliseconds(request.timeout_ms());
  timeout = std::min(timeout, kMaxWaitTimeout);
  return registry_->WaitForVersion(
      version, absl::Now() + timeout,
      [done = std::move(done)](v1::WaitForVersionResponse response) { done(std::move(response)); });
}

void ControlApi::RecordMocks(const v1::RecordMocksRequest& request, RecordDone done) {
  if (attach_ == nullptr || recorder_ == nullptr || changes_ == nullptr) {
    return done(absl::UnavailableError("recording is not set up"));
  }
  if (request.count() < 1 || request.count() > kMaxMocksPerApp) {
    return done(absl::InvalidArgumentError(absl::StrCat("count must be 1..", kMaxMocksPerApp)));
  }
  if (absl::StatusOr<v1::AppConfig> app = store_->Get(request.name()); !app.ok()) {
    return done(app.status());
  }
  uint32_t timeout_ms = request.timeout_ms() == 0
                            ? kDefaultRecordTimeoutMs
                            : std::min(request.timeout_ms(), kMaxRecordTimeoutMs);
  auto dataplanes = std::make_shared<std::atomic<uint32_t>>(0);
  auto shared_done = std::make_shared<RecordDone>(std::move(done));
  uint64_t id = recorder_->Start(
      request.name(), request.count(), absl::Now() + absl::Milliseconds(timeout_ms),
      [this, shared_done, dataplanes](MockRecorder::Result result) {
        // Storing the mocks is a change: on the change runner, like every other.
        changes_->Post([this, shared_done, dataplanes, result = std::move(result)] {
          absl::StatusOr<uint64_t> version = AddMocks(result.app, result.mocks);
          if (!version.ok()) return (*shared_done)(version.status());
          v1::RecordMocksResponse response;
          response.set_version(*version);
          response.set_recorded(static_cast<uint32_t>(result.mocks.size()));
          response.set_skipped(result.skipped);
          response.set_complete(result.complete);
          response.set_dataplanes(dataplanes->load());
          for (const v1::Mock& mock : result.mocks) *response.add_mocks() = mock;
          (*shared_done)(std::move(response));
        });
      });
  if (id == 0) return (*shared_done)(absl::UnavailableError("shutting down"));
  auto message = std::make_shared<v1::ControlPlaneMessage>();
  v1::RecordStart* start = message->mutable_record();
  start->set_recording_id(id);
  start->set_app(request.name());
  start->set_count(request.count());
  start->set_max_body_bytes(static_cast<uint32_t>(kMaxMockBodyBytes));
  start->set_timeout_ms(timeout_ms);
  size_t sent = attach_->SendToAll(std::move(message));
  dataplanes->store(static_cast<uint32_t>(sent));
  if (sent == 0 && recorder_->Cancel(id)) {
    (*shared_done)(absl::FailedPreconditionError("no data plane is attached: nothing can record"));
  }
}

}  // namespace valet
