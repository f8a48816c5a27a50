// A step of an app's request path before its handler: auth and the rate limit are stages. A
// stage reads and annotates the exchange, then passes it on, answers it (an error, a canned
// answer), or makes it wait (for a quota grant, say) and resumes it later.
//
// Stages are compiled into the snapshot per app, shared by every worker, and immutable: state
// that changes (counters, buckets) lives outside the snapshot and is referenced from the stage.
// Run is called on a worker thread and must not block.
#ifndef VALET_DATAPLANE_PIPELINE_STAGE_H_
#define VALET_DATAPLANE_PIPELINE_STAGE_H_

#include <string_view>
#include <utility>
#include <variant>

#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "dataplane/gateway_error.h"

namespace valet {

struct Exchange;
class Downstream;

class StageResult {
 public:
  using Answer = boost::beast::http::response<boost::beast::http::string_body>;

  // On to the next stage (or the handler).
  static StageResult Next() { return StageResult(std::monostate()); }
  // Answers with a gateway error; the stages after it and the handler do not run.
  static StageResult Fail(GatewayError error) { return StageResult(std::move(error)); }
  // Answers with `answer` (its framing is set when written).
  static StageResult Respond(Answer answer) { return StageResult(std::move(answer)); }
  // The stage will resume the exchange itself: it holds downstream.Hold() and calls
  // ResumePipeline(exchange, downstream) once, on this worker's thread.
  static StageResult Wait() { return StageResult(Waiting()); }

  bool next() const { return std::holds_alternative<std::monostate>(v_); }
  bool waiting() const { return std::holds_alternative<Waiting>(v_); }
  const GatewayError* error() const { return std::get_if<GatewayError>(&v_); }
  Answer* answer() { return std::get_if<Answer>(&v_); }

 private:
  struct Waiting {};
  template <class T>
  explicit StageResult(T v) : v_(std::move(v)) {}

  std::variant<std::monostate, GatewayError, Answer, Waiting> v_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  virtual StageResult Run(Exchange& exchange, Downstream& downstream) const = 0;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_STAGE_H_
