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

#include "absl/container/inlined_vector.h"
#include "common/route_syntax.h"

namespace valet {

struct FanoutRoute;

// Parameters of a matched route: (name, value as it appears in the path, still percent-encoded).
using PathParams = absl::InlinedVector<std::pair<std::string_view, std::string_view>, 4>;

// A path pattern ("/user/{id}"), matched segment by segment.
class RoutePattern {
 public:
  explicit RoutePattern(std::vector<PatternSegment> segments) : segments_(std::move(segments)) {}

  // True if `path` ("" or "/a/b", as RequestTarget::rest) matches; fills `params` (cleared
  // first). "" matches the pattern "/".
  bool Match(std::string_view path, PathParams* params) const;

 private:
  std::vector<PatternSegment> segments_;
};

struct CompiledRoute {
  std::string method;  // "" for any.
  RoutePattern pattern;
  std::string path;  // The pattern as configured, for messages.
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
