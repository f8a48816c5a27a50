#include "dataplane/snapshot.h"

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "common/app_config_validation.h"
#include "common/string_view.h"
#include "dataplane/auth/credentials.h"
#include "dataplane/fanout/fanout_route.h"
#include "dataplane/fanout/route_compiler.h"
#include "dataplane/mocks/mock_table.h"
#include "dataplane/pipeline/pipeline.h"
#include "dataplane/tls/client_contexts.h"

namespace valet {

EndpointSpec MakeEndpointSpec(std::string host, uint16_t port, std::string path_prefix,
                              uint32_t weight) {
  EndpointSpec spec;
  spec.host = std::move(host);
  spec.port = port;
  spec.path_prefix = std::move(path_prefix);
  spec.weight = weight;
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
  return spec;
}

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
  std::vector<std::unique_ptr<AppRoute>> built;
  absl::flat_hash_map<std::string, const AppRoute*> by_name;
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
      route->endpoints.push_back(
          MakeEndpointSpec(ep.host(), static_cast<uint16_t>(ep.port()), ep.path(), WeightOf(ep)));
      if (ep.scheme() == "https") {
        absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> tls =
            ClientContextFor(app.backend_ca_file());
        if (!tls.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("snapshot version ", config.version(),
                                                         " refused: app \"", app.name(),
                                                         "\": ", tls.status().message()));
        }
        EndpointSpec& spec = route->endpoints.back();
        spec.tls = std::move(*tls);
        // The default port of https is 443, not 80.
        spec.host_header = spec.port == 443 ? spec.key.substr(0, spec.key.rfind(':')) : spec.key;
        // Its own pool and health, apart from plain connections to the same host and port (and
        // from connections verified against another CA).
        spec.key = absl::StrCat("https://", spec.key,
                                app.backend_ca_file().empty() ? "" : " ca=", app.backend_ca_file());
      }
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
    by_name[app.name()] = route.get();
    built.push_back(std::move(route));
  }
  // Routes may name any app of the snapshot: compiled once every app is.
  auto find = [&by_name](std::string_view name) -> const AppRoute* {
    auto it = by_name.find(std::string(name));
    return it == by_name.end() ? nullptr : it->second;
  };
  for (int i = 0; i < config.apps_size(); ++i) {
    const v1::AppConfig& app = config.apps(i);
    AppRoute& route = *built[i];
    absl::StatusOr<std::shared_ptr<const RouteTable>> routes =
        CompileRoutes(app, route, find, metrics);
    if (!routes.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot version ", config.version(),
                                                     " refused: ", routes.status().message()));
    }
    route.routes = std::move(*routes);
    route.pipeline = BuildPipeline(route);
  }
  for (std::unique_ptr<AppRoute>& route : built) {
    std::string name = route->name;
    snapshot->apps_.emplace(std::move(name), std::move(route));
  }
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

absl::flat_hash_set<std::string> Snapshot::EndpointKeys() const {
  absl::flat_hash_set<std::string> keys;
  for (const auto& [name, app] : apps_) {
    for (const EndpointSpec& ep : app->endpoints) keys.insert(ep.key);
    if (!app->routes) continue;
    for (const CompiledRoute& route : app->routes->routes()) {
      for (const FanoutLeg& leg : route.fanout->legs) {
        if (!leg.own_app) continue;
        for (const EndpointSpec& ep : leg.own_app->endpoints) keys.insert(ep.key);
      }
    }
  }
  return keys;
}

const AppRoute* Snapshot::Find(std::string_view app) const {
  auto it = apps_.find(AsAbsl(app));
  return it == apps_.end() ? nullptr : it->second.get();
}

}  // namespace valet
