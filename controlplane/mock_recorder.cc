#include "controlplane/mock_recorder.h"

#include <utility>

namespace valet {

MockRecorder::MockRecorder() : thread_([this] { Loop(); }) {}

MockRecorder::~MockRecorder() { Stop(); }

uint64_t MockRecorder::Start(std::string app, uint32_t count, absl::Time deadline, Done done) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return 0;
  uint64_t id = next_id_++;
  Pending& p = pending_[id];
  p.app = std::move(app);
  p.count = count;
  p.deadline = deadline;
  p.done = std::move(done);
  changed_ = true;  // The loop waits for the earliest deadline: this one may be earlier.
  return id;
}

void MockRecorder::Add(const v1::RecordedAnswer& answer) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(answer.recording_id());
  if (it == pending_.end() || it->second.app != answer.app()) return;
  Pending& p = it->second;
  if (p.mocks.size() + p.skipped >= p.count) return;
  if (answer.has_mock()) {
    p.mocks.push_back(answer.mock());
  } else {
    ++p.skipped;
  }
  if (p.mocks.size() + p.skipped >= p.count) changed_ = true;
}

bool MockRecorder::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  return pending_.erase(id) > 0;
}

void MockRecorder::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void MockRecorder::Loop() {
  for (;;) {
    std::vector<Pending> finished;
    bool stop;
    {
      absl::MutexLock lock(&mu_);
      absl::Time earliest = absl::InfiniteFuture();
      for (const auto& [id, p] : pending_) earliest = std::min(earliest, p.deadline);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || changed_; };
      mu_.AwaitWithDeadline(absl::Condition(&ready), earliest);
      changed_ = false;
      stop = stopping_;
      absl::Time now = absl::Now();
      for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& p = it->second;
        if (stop || now >= p.deadline || p.mocks.size() + p.skipped >= p.count) {
          finished.push_back(std::move(p));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Pending& p : finished) {
      Result result;
      result.app = std::move(p.app);
      result.count = p.count;
      result.complete = p.mocks.size() + p.skipped >= p.count;
      result.mocks = std::move(p.mocks);
      result.skipped = p.skipped;
      p.done(std::move(result));
    }
    if (stop) return;
  }
}

}  // namespace valet
