// An app's request path as the snapshot compiles it, the way a factory builds a handler chain:
// an ordered list of stages ending in one handler.
//
//   [rate limit: announce] -> [auth] -> [rate limit] -> [mock] -> routes (fan-out) | proxy
// (a stage or handler in brackets only where the app uses it; routes only for an app with routes)
//
// The session routes a request to its app and calls RunPipeline; nothing feature-specific lives
// in the session.
#ifndef VALET_DATAPLANE_PIPELINE_PIPELINE_H_
#define VALET_DATAPLANE_PIPELINE_PIPELINE_H_

#include <memory>
#include <vector>

#include "dataplane/pipeline/handler.h"
#include "dataplane/pipeline/stage.h"

namespace valet {

struct AppRoute;
struct Exchange;
class Downstream;

class Pipeline {
 public:
  Pipeline(std::vector<std::unique_ptr<const Stage>> stages, std::shared_ptr<const Handler> handler)
      : stages_(std::move(stages)), handler_(std::move(handler)) {}

  const std::vector<std::unique_ptr<const Stage>>& stages() const { return stages_; }
  const Handler& handler() const { return *handler_; }

 private:
  std::vector<std::unique_ptr<const Stage>> stages_;
  std::shared_ptr<const Handler> handler_;
};

// The pipeline of `app` (whose other compiled parts are set).
std::shared_ptr<const Pipeline> BuildPipeline(const AppRoute& app);

// Runs `pipeline` over `exchange` from exchange.next_stage on: each stage in turn, then the
// handler. An answering stage ends the exchange through `downstream`; a waiting one resumes it
// later by calling this again.
void RunPipeline(const Pipeline& pipeline, Exchange& exchange, Downstream& downstream);

// Resumes the exchange's pipeline after a stage waited (on the worker's thread). If the client
// left meanwhile, the exchange is aborted instead.
void ResumePipeline(Exchange& exchange, Downstream& downstream);

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_PIPELINE_H_
