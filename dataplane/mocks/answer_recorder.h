// Record and replay, the data plane's side (docs/mocks.md): while the control plane has asked
// this data plane to record an app (RecordStart on the attach stream), the proxy captures that
// app's next answers from its backends and hands each, as a mock, to the sink (the attach
// stream back to the control plane).
//
// The request path pays one relaxed atomic load (active()) per proxied request while nothing is
// recorded. A capture keeps the method, the path after the app segment, the status, the content
// headers of an allow-list (never Authorization, Cookie, Set-Cookie or any other) and the body up
// to the recording's limit; an answer whose body is larger or not UTF-8 text is reported as
// skipped. Shared by every worker.
//
// Threading: every method is thread-safe. Lifetime: outlives the workers.
#ifndef VALET_DATAPLANE_MOCKS_ANSWER_RECORDER_H_
#define VALET_DATAPLANE_MOCKS_ANSWER_RECORDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/beast/http/fields.hpp"
#include "valet/v1/attach.pb.h"

namespace valet {

// One answer being captured: filled on the worker thread of its call.
struct AnswerCapture {
  uint64_t recording_id = 0;
  std::string app;
  size_t max_body_bytes = 0;
  std::string method;
  std::string path;
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool body_too_large = false;
};

class AnswerRecorder {
 public:
  using Sink = std::function<void(v1::DataPlaneMessage)>;

  // Where captured answers go (called on worker threads). Set before traffic.
  void set_sink(Sink sink);

  // Starts recording `start.app()` (replacing a recording of the same app); count 0 stops it.
  void Start(const v1::RecordStart& start);

  // True if some app may be recording: one relaxed load, for the request path.
  bool active() const { return active_.load(std::memory_order_relaxed) > 0; }

  // If `app` records and wants more answers, takes one of its slots and returns a capture to
  // fill; else null.
  std::unique_ptr<AnswerCapture> Claim(std::string_view app);

  // Copies the content headers of the allow-list from a backend's answer into `capture`.
  static void CaptureHeaders(const boost::beast::http::fields& fields, AnswerCapture& capture);

  // Turns a complete capture into a RecordedAnswer (a mock, or none if it cannot be one) and
  // sends it to the sink.
  void Deliver(const AnswerCapture& capture);

 private:
  struct Recording {
    uint64_t id = 0;
    uint32_t remaining = 0;
    size_t max_body_bytes = 0;
    absl::Time deadline;
  };

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Recording> recordings_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> active_{0};  // == recordings_.size()
  Sink sink_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_DATAPLANE_MOCKS_ANSWER_RECORDER_H_
