// ChangeRunner: one thread that runs the control plane's config changes (apply, delete, reload)
// for the gRPC control API, in the order they are posted.
//
// A change writes to the conf dir (temp files, fsync, rename) and changes are serialised; on a
// gRPC callback thread a slow disk would hold that thread, and every change queued behind it would
// hold another, until no thread is left for the attach streams. Posted here, a change holds this
// thread only: callback threads return at once and the call is answered when the change is done.
//
// Threading: Post from any thread; tasks run one at a time on the runner's thread, in post order.
// Lifetime: Stop (or the destructor) runs every task already posted, then joins the thread; a task
// posted after Stop runs on the caller's thread (so every call is still answered).
#ifndef VALET_CONTROLPLANE_CHANGE_RUNNER_H_
#define VALET_CONTROLPLANE_CHANGE_RUNNER_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace valet {

class ChangeRunner {
 public:
  using Task = std::function<void()>;

  ChangeRunner();
  ~ChangeRunner();
  ChangeRunner(const ChangeRunner&) = delete;
  ChangeRunner& operator=(const ChangeRunner&) = delete;

  void Post(Task task);

  // Idempotent.
  void Stop();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CHANGE_RUNNER_H_
