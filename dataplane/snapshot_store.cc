#include "dataplane/snapshot_store.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "dataplane/worker.h"

namespace valet {
namespace {

// One snapshot on its way to the workers: the last of them to swap it in completes it.
struct Rollout {
  std::atomic<size_t> pending;  // Workers that have not swapped it in yet.
  uint64_t version;
  size_t apps;
  std::function<void()> served;

  // Called once per worker, on its thread. Workers apply snapshots in install order, so rollouts
  // complete in install order too.
  void WorkerInstalled() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) Complete();
  }

  void Complete() {
    VALET_LOG(INFO) << "serving config version " << version << " (" << apps << " apps)";
    if (served) served();
  }
};

}  // namespace

absl::Status SnapshotStore::Install(const v1::ConfigSnapshot& config,
                                    std::function<void()> served) {
  if (max_apps_ != 0 && static_cast<uint32_t>(config.apps_size()) > max_apps_) {
    metrics_.config_reloads_failed().fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(
        absl::StrCat("snapshot version ", config.version(), " has ", config.apps_size(),
                     " apps; this data plane serves at most ", max_apps_, " (--max-apps)"));
  }
  absl::StatusOr<std::shared_ptr<const Snapshot>> compiled =
      Snapshot::Compile(config, metrics_, limits_);
  if (!compiled.ok()) {
    metrics_.config_reloads_failed().fetch_add(1, std::memory_order_relaxed);
    return compiled.status();
  }
  // A shared countdown rather than a wait: no worker blocks, and the request path is untouched.
  auto rollout = std::make_shared<Rollout>();
  rollout->pending = workers_.size();
  rollout->version = config.version();
  rollout->apps = (*compiled)->app_count();
  rollout->served = std::move(served);
  std::shared_ptr<const Snapshot> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(current_);
    current_ = *compiled;
    epoch_ = config.epoch();
    for (Worker* w : workers_) w->SetSnapshot(current_, [rollout] { rollout->WorkerInstalled(); });
  }
  metrics_.config_reloads_ok().fetch_add(1, std::memory_order_relaxed);
  metrics_.snapshot_version().store(config.version(), std::memory_order_relaxed);
  if (workers_.empty()) rollout->Complete();  // Nothing to wait for.
  return absl::OkStatus();  // `old` dies here, outside the lock, unless a request still holds it.
}

std::shared_ptr<const Snapshot> SnapshotStore::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

uint64_t SnapshotStore::version() const {
  absl::MutexLock lock(&mu_);
  return current_ ? current_->version() : 0;
}

uint64_t SnapshotStore::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

}  // namespace valet
