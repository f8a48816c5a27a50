#include "dataplane/pipeline/pipeline.h"

#include "dataplane/auth/auth_stage.h"
#include "dataplane/fanout/route_handler.h"
#include "dataplane/limits/rate_limit_stage.h"
#include "dataplane/mocks/mock_handler.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/pipeline/proxy_handler.h"
#include "dataplane/snapshot.h"

namespace valet {

std::shared_ptr<const Pipeline> BuildPipeline(const AppRoute& app) {
  // Only the stages and handlers an app uses: an open app has none and pays for none.
  std::vector<std::unique_ptr<const Stage>> stages;
  // An app that checks keys announces its budget before auth: a 401 carries the fields too.
  if (app.limits && app.limits->announce_before_auth) {
    stages.push_back(std::make_unique<RateLimitStage>(app.limits, RateLimitStage::Mode::kAnnounce));
  }
  if (app.credentials) stages.push_back(std::make_unique<AuthStage>(app.credentials, app.stats));
  // The limit spends from the budget of the consumer auth found.
  if (app.limits) {
    stages.push_back(std::make_unique<RateLimitStage>(app.limits, RateLimitStage::Mode::kSpend));
  }
  // Handlers hold no state of their own: one proxy serves every app of every snapshot, and one
  // route handler every app with routes (it reads the exchange's app's route table).
  static const std::shared_ptr<const Handler> proxy = std::make_shared<ProxyHandler>();
  static const std::shared_ptr<const Handler> routes = std::make_shared<RouteHandler>();
  std::shared_ptr<const Handler> handler = app.routes ? routes : proxy;
  // Mocks come first; the stages before the handler (auth, the rate limit) apply to them too.
  if (app.mocks) {
    handler = std::make_shared<MockHandler>(app.mocks, app.mock_mode, app.mock_header, handler);
  }
  return std::make_shared<const Pipeline>(std::move(stages), handler);
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
