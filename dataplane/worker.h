// One event-loop thread of the data plane: its io_context, its view of the serving snapshot, its
// upstream pool and balancer, and the sessions it runs. Everything here but the methods marked
// "any thread" is touched only on the worker's own thread, so it needs no lock.
#ifndef VALET_DATAPLANE_WORKER_H_
#define VALET_DATAPLANE_WORKER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "dataplane/metrics.h"
#include "dataplane/options.h"
#include "dataplane/snapshot.h"
#include "dataplane/upstream/balancer.h"
#include "dataplane/upstream/upstream_pool.h"

namespace valet {

class Session;
class AnswerRecorder;

class Worker {
 public:
  // Size of the buffers a session borrows to move body bytes.
  static constexpr size_t kRelayBufferBytes = 16 * 1024;

  Worker(int index, const ProxyOptions& options, Metrics& metrics, AnswerRecorder& recorder);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  boost::asio::io_context& io() { return io_; }
  const ProxyOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }
  AnswerRecorder& recorder() { return recorder_; }  // Any thread.
  int index() const { return index_; }

  // Worker thread only.
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_; }
  UpstreamPool& pool() { return pool_; }
  Balancer& balancer() { return balancer_; }
  bool draining() const { return draining_; }
  // Body buffers are lent per exchange, so idle keep-alive connections hold none.
  std::unique_ptr<char[]> AcquireRelayBuffer();
  void ReleaseRelayBuffer(std::unique_ptr<char[]> buffer);
  void AddSession(Session* s) {
    sessions_.insert(s);
    session_count_.fetch_add(1, std::memory_order_relaxed);
  }
  void RemoveSession(Session* s) {
    sessions_.erase(s);
    session_count_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Any thread.
  void Start();  // Starts the thread.
  // Posted; applies in order. `installed` (may be empty) runs on this worker's thread right after
  // the swap: from then on every exchange this worker starts pins `s`. It never runs if the
  // worker stops first. Posted before Start, the swap is the worker's first handler, so it runs
  // before any connection the worker is given.
  void SetSnapshot(std::shared_ptr<const Snapshot> s, std::function<void()> installed = {});
  void Drain();  // Posted: idle sessions close.
  void Stop();   // Stops the loop and joins.
  size_t session_count() const { return session_count_.load(std::memory_order_relaxed); }

 private:
  void ScheduleSweep();

  const int index_;
  const ProxyOptions& options_;
  Metrics& metrics_;
  AnswerRecorder& recorder_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  boost::asio::steady_timer sweep_timer_{io_};
  std::shared_ptr<const Snapshot> snapshot_;
  UpstreamPool pool_;
  Balancer balancer_;
  bool draining_ = false;
  bool stopping_ = false;  // Set by Stop on this thread: the sweep timer is not re-armed.
  absl::flat_hash_set<Session*> sessions_;
  std::vector<std::unique_ptr<char[]>> spare_buffers_;
  std::atomic<size_t> session_count_{0};
  std::thread thread_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_WORKER_H_
