#include "dataplane/worker.h"

#include "dataplane/session.h"

namespace valet {

Worker::Worker(int index, const ProxyOptions& options, Metrics& metrics, AnswerRecorder& recorder)
    : index_(index),
      options_(options),
      metrics_(metrics),
      recorder_(recorder),
      pool_(io_, options.upstream_idle_timeout,
            PoolLimits{PoolLimits::Share(options.max_connections_per_endpoint, options.workers),
                       PoolLimits::Share(options.max_pending_per_endpoint, options.workers),
                       options.queue_timeout},
            metrics),
      balancer_(0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index + 1),
                OutlierPolicy{options.eject_after_failures, options.eject_duration}) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  guard_.emplace(io_.get_executor());
  ScheduleSweep();
  thread_ = std::thread([this] { io_.run(); });
}

void Worker::SetSnapshot(std::shared_ptr<const Snapshot> s, std::function<void()> installed) {
  boost::asio::post(io_, [this, s = std::move(s), installed = std::move(installed)]() mutable {
    // The previous snapshot dies here (or with its last request), on this thread.
    snapshot_ = std::move(s);
    if (snapshot_) {
      absl::flat_hash_set<std::string> keys = snapshot_->EndpointKeys();
      balancer_.Retain(keys);
      pool_.Retain(keys);
    }
    if (installed) installed();
  });
}

void Worker::Drain() {
  boost::asio::post(io_, [this] {
    draining_ = true;
    // Copy: closing a session may remove it from the set.
    std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* s : sessions) s->OnDrain();
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  boost::asio::post(io_, [this] {
    // cancel() does not stop a handler already queued: it checks stopping_ and does not re-arm.
    stopping_ = true;
    sweep_timer_.cancel();
    pool_.CloseAll();
    std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* s : sessions) s->Close();
    guard_.reset();
  });
  thread_.join();
}

std::unique_ptr<char[]> Worker::AcquireRelayBuffer() {
  if (spare_buffers_.empty()) return std::make_unique<char[]>(kRelayBufferBytes);
  std::unique_ptr<char[]> buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return buffer;
}

void Worker::ReleaseRelayBuffer(std::unique_ptr<char[]> buffer) {
  // Keep as many as are busy at a peak, up to a bound; free the rest.
  constexpr size_t kMaxSpareBuffers = 256;
  if (spare_buffers_.size() < kMaxSpareBuffers) spare_buffers_.push_back(std::move(buffer));
}

void Worker::ScheduleSweep() {
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    pool_.Sweep();
    ScheduleSweep();
  });
}

}  // namespace valet
