// An app's compiled routes: method + path pattern with named parameters -> what to do. A
// request's path (after the app segment) is matched against the routes in their config order;
// the first that matches wins, and a request that matches none is proxied as usual.
//
// The table is built once per snapshot (route_compiler.h) and immutable; Match allocates nothing
// (parameters are views into the pattern and the request path). A route's action is a fan-out
// today; mocks become one more kind of action.
#ifndef VALET_DATAPLANE_FANOUT_ROUTE_TABLE_H_
#define VALET_DATAPLANE_FANOUT_ROUTE_TABLE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/path_pattern.h"

namespace valet {

struct FanoutRoute;

struct CompiledRoute {
  std::string method;  // "" for any.
  PathPattern pattern;
  // The action: a fan-out.
  std::shared_ptr<const FanoutRoute> fanout;
};

class RouteTable {
 public:
  explicit RouteTable(std::vector<CompiledRoute> routes) : routes_(std::move(routes)) {}

  // The first route matching `method` and `path`, or null; `params` holds its parameters.
  const CompiledRoute* Match(std::string_view method, std::string_view path,
                             PathParams* params) const;

  const std::vector<CompiledRoute>& routes() const { return routes_; }

 private:
  std::vector<CompiledRoute> routes_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_ROUTE_TABLE_H_
