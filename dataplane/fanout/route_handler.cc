#include "dataplane/fanout/route_handler.h"

#include "dataplane/fanout/fanout_call.h"
#include "dataplane/fanout/route_table.h"
#include "dataplane/pipeline/exchange.h"

namespace valet {

void RouteHandler::Handle(Exchange& exchange, Downstream& downstream) const {
  PathParams params;
  const CompiledRoute* route = exchange.app->routes->Match(exchange.request.get().method_string(),
                                                           exchange.target.rest, &params);
  if (route == nullptr) return proxy_.Handle(exchange, downstream);
  FanoutCall::Start(*route->fanout, params, exchange, downstream);
}

}  // namespace valet
