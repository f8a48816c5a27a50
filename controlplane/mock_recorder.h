// Record and replay, the control plane's side (docs/mocks.md): the recordings RecordMocks calls
// are waiting for. A recording collects the answers the data planes capture for one app (sent on
// their attach streams) until it has `count` of them or its deadline passes, then its `done` runs
// with what came.
//
// Threading: thread-safe; Add is called from attach reactions and only takes a short lock. `done`
// runs on the recorder's own thread (never under its lock) and must not block for long.
// Lifetime: Stop (or the destructor) answers every pending recording with what it has, then joins.
#ifndef VALET_CONTROLPLANE_MOCK_RECORDER_H_
#define VALET_CONTROLPLANE_MOCK_RECORDER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "valet/v1/attach.pb.h"

namespace valet {

class MockRecorder {
 public:
  struct Result {
    std::string app;
    uint32_t count = 0;           // Answers asked for.
    std::vector<v1::Mock> mocks;  // In arrival order.
    uint32_t skipped = 0;         // Answers that could not be mocks (body too large, binary).
    bool complete = false;        // `count` answers came before the deadline.
  };
  using Done = std::function<void(Result)>;

  MockRecorder();
  ~MockRecorder();
  MockRecorder(const MockRecorder&) = delete;
  MockRecorder& operator=(const MockRecorder&) = delete;

  // Starts waiting for `count` answers of `app`; returns the recording's id (for RecordStart),
  // or 0 (and `done` is never called) once stopping.
  uint64_t Start(std::string app, uint32_t count, absl::Time deadline, Done done);

  // An answer a data plane captured; ignored unless its recording waits for more.
  void Add(const v1::RecordedAnswer& answer);

  // Drops a recording without calling its `done`; false if it had already finished.
  bool Cancel(uint64_t id);

  // Idempotent.
  void Stop();

 private:
  struct Pending {
    std::string app;
    uint32_t count = 0;
    absl::Time deadline;
    std::vector<v1::Mock> mocks;
    uint32_t skipped = 0;
    Done done;
  };

  void Loop();

  absl::Mutex mu_;
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;  // A recording filled up or a new one started.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_MOCK_RECORDER_H_
