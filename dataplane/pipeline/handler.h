// The end of an app's request path: produces the answer. The proxy handler relays the request to
// one backend; fan-out and mocks are handlers of later releases. Compiled into the snapshot per
// app and immutable, like stages; the state of one request lives in its Exchange.
#ifndef VALET_DATAPLANE_PIPELINE_HANDLER_H_
#define VALET_DATAPLANE_PIPELINE_HANDLER_H_

#include <string_view>

namespace valet {

struct Exchange;
class Downstream;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual std::string_view name() const = 0;
  // Answers `exchange`, usually asynchronously, ending it through one of Downstream's ending
  // calls exactly once.
  virtual void Handle(Exchange& exchange, Downstream& downstream) const = 0;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_HANDLER_H_
