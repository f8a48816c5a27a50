#include "dataplane/fanout/route_table.h"

namespace valet {

const CompiledRoute* RouteTable::Match(std::string_view method, std::string_view path,
                                       PathParams* params) const {
  for (const CompiledRoute& route : routes_) {
    if (!route.method.empty() && route.method != method) continue;
    if (route.pattern.Match(path, params)) return &route;
  }
  params->clear();
  return nullptr;
}

}  // namespace valet
