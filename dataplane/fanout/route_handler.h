// The handler of an app with routes: matches the request against the app's route table
// (route_table.h). A matching fan-out route runs the fan-out (fanout_call.h); anything else is
// proxied exactly as for an app without routes.
#ifndef VALET_DATAPLANE_FANOUT_ROUTE_HANDLER_H_
#define VALET_DATAPLANE_FANOUT_ROUTE_HANDLER_H_

#include "dataplane/pipeline/handler.h"
#include "dataplane/pipeline/proxy_handler.h"

namespace valet {

class RouteHandler : public Handler {
 public:
  std::string_view name() const override { return "routes"; }
  void Handle(Exchange& exchange, Downstream& downstream) const override;

 private:
  ProxyHandler proxy_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_ROUTE_HANDLER_H_
