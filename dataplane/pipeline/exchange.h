// One request, from the moment the session starts reading it until its answer is written. The
// session creates an Exchange per request and destroys it with the answer, so nothing of one
// request outlives it or has to be reset by hand. Worker thread only.
//
// What each part of the request path finds here: the session fills the request, the pinned
// snapshot, the app and the target; stages add response fields (and later the consumer and the
// limit decision); the handler keeps the upstream call it runs.
#ifndef VALET_DATAPLANE_PIPELINE_EXCHANGE_H_
#define VALET_DATAPLANE_PIPELINE_EXCHANGE_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/fields.hpp"
#include "boost/beast/http/parser.hpp"
#include "dataplane/request_target.h"
#include "dataplane/snapshot.h"

namespace valet {

class FanoutCall;
class UpstreamCall;

// Header fields that go on whatever answer the exchange gets (the backend's, a gateway error, a
// mock), replacing fields of the same name: the rate-limit fields, say.
class ResponseFields {
 public:
  void Set(std::string name, std::string value) {
    for (auto& [n, v] : fields_) {
      if (n == name) {
        v = std::move(value);
        return;
      }
    }
    fields_.emplace_back(std::move(name), std::move(value));
  }
  void ApplyTo(boost::beast::http::fields& fields) const {
    for (const auto& [name, value] : fields_) fields.set(name, value);
  }
  bool empty() const { return fields_.empty(); }

 private:
  absl::InlinedVector<std::pair<std::string, std::string>, 2> fields_;
};

struct Exchange {
  using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

  // The request as read from the client; its header is rewritten in place for the next hop.
  RequestParser request;
  std::chrono::steady_clock::time_point started{};

  // Set by the session before the pipeline runs.
  std::shared_ptr<const Snapshot> snapshot;  // Pinned until the exchange ends.
  const AppRoute* app = nullptr;
  RequestTarget target;
  bool head_request = false;
  bool client_http10 = false;
  bool keep_alive = false;  // The client connection stays open after this answer.

  // Added by stages.
  const ConsumerRoute* consumer = nullptr;  // Auth: who called (in the pinned snapshot).
  ResponseFields response_fields;

  // Pipeline position: stages already run (a stage that waits resumes from here).
  size_t next_stage = 0;

  // The proxy handler's call, cancelled if the client connection closes.
  std::shared_ptr<UpstreamCall> upstream;
  // The fan-out handler's call (dataplane/fanout/fanout_call.h), cancelled likewise.
  std::shared_ptr<FanoutCall> fanout;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_EXCHANGE_H_
