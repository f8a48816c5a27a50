#include "dataplane/fanout/route_compiler.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "common/route_syntax.h"
#include "common/string_view.h"
#include "dataplane/fanout/fanout_route.h"

namespace valet {

absl::StatusOr<std::shared_ptr<const RouteTable>> CompileRoutes(
    const v1::AppConfig& config, const AppRoute& self,
    const std::function<const AppRoute*(std::string_view)>& find, Metrics& metrics) {
  if (config.routes().empty()) return std::shared_ptr<const RouteTable>();
  std::vector<CompiledRoute> routes;
  for (int i = 0; i < config.routes_size(); ++i) {
    const v1::Route& r = config.routes(i);
    auto where = [&](std::string_view field) {
      return absl::StrCat("app \"", config.name(), "\": routes[", i, "]", AsAbsl(field), ": ");
    };
    absl::StatusOr<PathPattern> pattern = PathPattern::Compile(r.path());
    if (!pattern.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where(".path"), pattern.status().message()));
    }
    auto fanout = std::make_shared<FanoutRoute>();
    std::string_view collision = CollisionOf(r);
    fanout->collision = collision == kCollisionFirst  ? CollisionPolicy::kFirst
                        : collision == kCollisionLast ? CollisionPolicy::kLast
                                                      : CollisionPolicy::kError;
    fanout->legs.reserve(r.backends_size());
    for (int j = 0; j < r.backends_size(); ++j) {
      const v1::RouteBackend& b = r.backends(j);
      std::string field = absl::StrCat(".backends[", j, "]");
      FanoutLeg leg;
      leg.name = BackendNameOf(b.name(), b.app(), b.url());
      leg.group = b.group();
      leg.required = RequiredOf(b);
      leg.timeout =
          b.timeout_ms() != 0 ? std::chrono::milliseconds(b.timeout_ms()) : self.request_timeout;
      if (!b.path().empty()) {
        absl::StatusOr<std::vector<TemplatePiece>> pieces = ParsePathTemplate(b.path());
        if (!pieces.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(field + ".path"), pieces.status().message()));
        }
        leg.path = PathTemplate(std::move(*pieces));
      }
      if (!b.app().empty()) {
        leg.app = find(b.app());
        if (leg.app == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(field + ".app"), "no app named \"", b.app(), "\""));
        }
      } else {
        absl::StatusOr<BackendUrl> url = ParseBackendUrl(b.url());
        if (!url.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(field + ".url"), url.status().message()));
        }
        auto own = std::make_unique<AppRoute>();
        // Its own name keeps its balancer state apart from the app's.
        own->name = absl::StrCat(self.name, " ", b.url());
        own->endpoints.push_back(MakeEndpointSpec(url->host, url->port, url->prefix, 1));
        own->balancing = BalancingPolicy::kLeastRequest;
        own->connect_timeout = self.connect_timeout;
        own->request_timeout = leg.timeout;
        own->stats = self.stats;
        leg.app = own.get();
        leg.own_app = std::move(own);
      }
      leg.stats = metrics.ForFanoutLeg(self.name, leg.name);
      fanout->legs.push_back(std::move(leg));
    }
    std::string method = r.method() == "*" ? "" : r.method();
    routes.push_back(CompiledRoute{std::move(method), std::move(*pattern), fanout});
  }
  return std::make_shared<const RouteTable>(std::move(routes));
}

}  // namespace valet
