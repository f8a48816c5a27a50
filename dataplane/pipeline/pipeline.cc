#include "dataplane/pipeline/pipeline.h"

#include "dataplane/fanout/route_handler.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/pipeline/proxy_handler.h"

namespace valet {

std::shared_ptr<const Pipeline> BuildPipeline(const AppRoute& app) {
  // Handlers hold no state of their own: one proxy serves every app of every snapshot, and one
  // route handler every app with routes (it reads the exchange's app's route table). An app
  // without routes ends in the proxy itself and pays nothing for routes.
  static const std::shared_ptr<const Handler> proxy = std::make_shared<ProxyHandler>();
  static const std::shared_ptr<const Handler> routes = std::make_shared<RouteHandler>();
  return std::make_shared<const Pipeline>(std::vector<std::unique_ptr<const Stage>>(),
                                          app.routes ? routes : proxy);
}

void RunPipeline(const Pipeline& pipeline, Exchange& exchange, Downstream& downstream) {
  const auto& stages = pipeline.stages();
  while (exchange.next_stage < stages.size()) {
    StageResult result = stages[exchange.next_stage++]->Run(exchange, downstream);
    if (result.next()) continue;
    if (result.waiting()) return;
    if (const GatewayError* error = result.error()) return downstream.Fail(*error);
    return downstream.Respond(std::move(*result.answer()));
  }
  pipeline.handler().Handle(exchange, downstream);
}

void ResumePipeline(Exchange& exchange, Downstream& downstream) {
  if (downstream.closed()) return downstream.Abort(0);
  RunPipeline(*exchange.app->pipeline, exchange, downstream);
}

}  // namespace valet
