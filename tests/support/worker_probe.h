// Helpers that reach a running data-plane Worker from a test thread: hold its event loop busy, and
// read the snapshot version it serves. Header-only, for tests that link valet_dataplane_lib.
//
// Threading: used from the test thread; every wait has a deadline. Lifetime: a WorkerHold must be
// released (or destroyed) before its worker stops, or the stop waits for the hold's own bound.
#ifndef VALET_TESTS_SUPPORT_WORKER_PROBE_H_
#define VALET_TESTS_SUPPORT_WORKER_PROBE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "boost/asio/post.hpp"
#include "dataplane/worker.h"

namespace valet::testing {

// Holds `worker`'s loop in one handler from construction until Release() or destruction (at most
// 30 s, so a failed test cannot hang): everything posted to the worker meanwhile waits, as behind a
// slow handler. The constructor returns once the loop is held; held() is false if that did not
// happen within 10 s.
class WorkerHold {
 public:
  explicit WorkerHold(Worker& worker) : state_(std::make_shared<State>()) {
    boost::asio::post(worker.io(), [state = state_] {
      state->entered.Notify();
      state->released.WaitForNotificationWithTimeout(absl::Seconds(30));
    });
    held_ = state_->entered.WaitForNotificationWithTimeout(absl::Seconds(10));
  }
  WorkerHold(const WorkerHold&) = delete;
  WorkerHold& operator=(const WorkerHold&) = delete;
  ~WorkerHold() { Release(); }

  bool held() const { return held_; }
  void Release() {
    if (!state_->released.HasBeenNotified()) state_->released.Notify();
  }

 private:
  // Shared with the handler, which may outlive this object by a moment.
  struct State {
    absl::Notification entered;
    absl::Notification released;
  };
  std::shared_ptr<State> state_;
  bool held_ = false;
};

// The version of the snapshot `worker` serves (0: none), read on its own thread after everything
// posted to it before; nullopt if its loop did not get there within `timeout`.
inline std::optional<uint64_t> WorkerSnapshotVersion(Worker& worker,
                                                     absl::Duration timeout = absl::Seconds(10)) {
  struct Probe {
    uint64_t version = 0;  // Written before `done` is notified, read after.
    absl::Notification done;
  };
  auto probe = std::make_shared<Probe>();
  boost::asio::post(worker.io(), [&worker, probe] {
    probe->version = worker.snapshot() ? worker.snapshot()->version() : 0;
    probe->done.Notify();
  });
  if (!probe->done.WaitForNotificationWithTimeout(timeout)) return std::nullopt;
  return probe->version;
}

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_WORKER_PROBE_H_
