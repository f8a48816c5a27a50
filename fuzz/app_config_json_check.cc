#include "fuzz/app_config_json_check.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app_config_json.h"
#include "common/app_config_validation.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "google/protobuf/util/message_differencer.h"

namespace valet::fuzz {
namespace {

// Shorter keys occur in the fixed words of errors by chance.
constexpr size_t kMinKeyBytesToLookFor = 16;

// True if an error may show `key` (the auth key or a consumer's): it is long enough to be no
// chance match, and no other field (which errors may quote) holds it.
bool LeaksSecret(const v1::AppConfig& app, const std::string& key, std::string_view error) {
  if (key.size() < kMinKeyBytesToLookFor || error.find(key) == std::string_view::npos) return false;
  std::vector<std::string> quotable = {app.name(), app.description(), app.auth_header(),
                                       app.balancing()};
  for (const v1::Endpoint& ep : app.endpoints()) {
    quotable.insert(quotable.end(), {ep.host(), ep.path(), ep.scheme()});
  }
  for (const v1::Consumer& c : app.consumers()) {
    quotable.insert(quotable.end(), {c.name(), c.key_sha256()});
  }
  for (const v1::Mock& mock : app.mocks()) {
    quotable.insert(quotable.end(), {mock.method(), mock.path()});
    for (const v1::MockHeader& h : mock.headers()) quotable.push_back(h.name());
  }
  for (const std::string& field : quotable) {
    if (field.find(key) != std::string::npos) return false;
  }
  return true;
}

bool LeaksKey(const v1::AppConfig& app, std::string_view error) {
  if (LeaksSecret(app, app.auth_key(), error)) return true;
  for (const v1::Consumer& c : app.consumers()) {
    if (LeaksSecret(app, c.key(), error)) return true;
  }
  return false;
}

}  // namespace

absl::Status RunAppConfigJson(std::string_view bytes) {
  absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(bytes, "fuzz.json");
  if (!app.ok()) return absl::OkStatus();

  std::string json = AppConfigToJson(*app);
  absl::StatusOr<v1::AppConfig> again = ParseAppConfigJson(json, "rendered.json");
  if (!again.ok()) {
    return absl::InternalError(
        absl::StrCat("the rendered config does not parse: ", again.status().message()));
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(*app, *again)) {
    return absl::InternalError("the rendered config parses to another config");
  }

  std::vector<v1::ValidationError> errors = ValidateAppConfig(*app, "fuzz.json");
  absl::Status set = ValidateAppSet({SourcedApp{*app, "fuzz.json"}});
  // A fan-out backend may name another app: only a set can say whether it exists.
  bool names_other_apps = false;
  for (const v1::Route& route : app->routes()) {
    for (const v1::RouteBackend& b : route.backends()) {
      if (!b.app().empty() && b.app() != app->name()) names_other_apps = true;
    }
  }
  if (names_other_apps) return absl::OkStatus();
  if (errors.empty() != set.ok()) {
    return absl::InternalError("ValidateAppConfig and ValidateAppSet disagree on one app");
  }
  for (const v1::ValidationError& error : errors) {
    if (LeaksKey(*app, error.path()) || LeaksKey(*app, error.reason())) {
      return absl::InternalError("a validation error shows the auth key");
    }
  }
  if (!errors.empty()) return absl::OkStatus();

  v1::ConfigSnapshot config;
  config.set_version(1);
  *config.add_apps() = *app;
  v1::AppConfig* other = config.add_apps();
  other->set_name(app->name() == "other" ? "another" : "other");
  v1::Endpoint* ep = other->add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(9050);
  Metrics metrics;
  RateLimits limits;
  absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot =
      Snapshot::Compile(config, metrics, limits);
  if (!snapshot.ok()) {
    return absl::InternalError(
        absl::StrCat("a valid app does not compile: ", snapshot.status().message()));
  }
  const AppRoute* route = (*snapshot)->Find(app->name());
  if (route == nullptr || route->endpoints.size() != static_cast<size_t>(app->endpoints_size())) {
    return absl::InternalError("a compiled app does not route by its name");
  }
  return absl::OkStatus();
}

}  // namespace valet::fuzz
