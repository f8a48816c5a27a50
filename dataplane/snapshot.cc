#include "dataplane/snapshot.h"

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "common/app_config_validation.h"
#include "common/string_view.h"
#include "dataplane/auth/credentials.h"
#include "dataplane/mocks/mock_table.h"
#include "dataplane/pipeline/pipeline.h"

namespace valet {

absl::StatusOr<std::shared_ptr<const Snapshot>> Snapshot::Compile(const v1::ConfigSnapshot& config,
                                                                  Metrics& metrics,
                                                                  RateLimits& limits) {
  std::vector<SourcedApp> sourced;
  sourced.reserve(config.apps_size());
  for (const v1::AppConfig& app : config.apps()) {
    sourced.push_back({app, absl::StrCat("app \"", app.name(), "\"")});
  }
  absl::Status valid = ValidateAppSet(sourced);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot version ", config.version(), " refused: ", valid.message()));
  }

  // Compiled only once the whole set is valid: compiling applies changed limits at once.
  auto snapshot = std::shared_ptr<Snapshot>(new Snapshot());
  snapshot->version_ = config.version();
  for (const v1::AppConfig& app : config.apps()) {
    auto route = std::make_unique<AppRoute>();
    route->name = app.name();
    route->balancing = BalancingOf(app) == kBalancingRoundRobin ? BalancingPolicy::kRoundRobin
                                                                : BalancingPolicy::kLeastRequest;
    route->connect_timeout = std::chrono::milliseconds(ConnectTimeoutMsOf(app));
    route->request_timeout = std::chrono::milliseconds(RequestTimeoutMsOf(app));
    route->stats = metrics.ForApp(app.name());
    route->limits = limits.Compile(app);
    for (const v1::Endpoint& ep : app.endpoints()) {
      EndpointSpec spec;
      spec.host = ep.host();
      spec.port = static_cast<uint16_t>(ep.port());
      spec.path_prefix = ep.path();
      spec.weight = WeightOf(ep);
      boost::system::error_code ec;
      std::string bare_host = spec.host;
      if (bare_host.size() > 2 && bare_host.front() == '[' && bare_host.back() == ']') {
        bare_host = bare_host.substr(1, bare_host.size() - 2);
      }
      auto addr = boost::asio::ip::make_address(bare_host, ec);
      if (!ec) spec.address = addr;
      std::string host_for_header =
          spec.address && spec.address->is_v6() ? absl::StrCat("[", bare_host, "]") : bare_host;
      spec.key = absl::StrCat(host_for_header, ":", spec.port);
      spec.host_header = spec.port == 80 ? host_for_header : spec.key;
      route->endpoints.push_back(std::move(spec));
    }
    route->credentials = AppCredentials::Compile(app);
    if (app.mock_mode() || app.mock_header()) {
      absl::StatusOr<std::shared_ptr<const MockTable>> mocks = MockTable::Compile(app);
      if (!mocks.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("snapshot version ", config.version(),
                                                       " refused: app \"", app.name(),
                                                       "\": ", mocks.status().message()));
      }
      route->mocks = std::move(*mocks);
      route->mock_mode = app.mock_mode();
      route->mock_header = app.mock_header();
    }
    route->pipeline = BuildPipeline(*route);
    snapshot->apps_.emplace(app.name(), std::move(route));
  }
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

absl::flat_hash_set<std::string> Snapshot::EndpointKeys() const {
  absl::flat_hash_set<std::string> keys;
  for (const auto& [name, app] : apps_) {
    for (const EndpointSpec& ep : app->endpoints) keys.insert(ep.key);
  }
  return keys;
}

const AppRoute* Snapshot::Find(std::string_view app) const {
  auto it = apps_.find(AsAbsl(app));
  return it == apps_.end() ? nullptr : it->second.get();
}

}  // namespace valet
