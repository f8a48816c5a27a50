#include "dataplane/snapshot_store.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "dataplane/worker.h"

namespace valet {

absl::Status SnapshotStore::Install(const v1::ConfigSnapshot& config) {
  if (max_apps_ != 0 && static_cast<uint32_t>(config.apps_size()) > max_apps_) {
    metrics_.config_reloads_failed().fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(
        absl::StrCat("snapshot version ", config.version(), " has ", config.apps_size(),
                     " apps; this data plane serves at most ", max_apps_, " (--max-apps)"));
  }
  absl::StatusOr<std::shared_ptr<const Snapshot>> compiled = Snapshot::Compile(config, metrics_);
  if (!compiled.ok()) {
    metrics_.config_reloads_failed().fetch_add(1, std::memory_order_relaxed);
    return compiled.status();
  }
  std::shared_ptr<const Snapshot> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(current_);
    current_ = *compiled;
    epoch_ = config.epoch();
    for (Worker* w : workers_) w->SetSnapshot(current_);
  }
  metrics_.config_reloads_ok().fetch_add(1, std::memory_order_relaxed);
  metrics_.snapshot_version().store(config.version(), std::memory_order_relaxed);
  VALET_LOG(INFO) << "serving config version " << config.version() << " ("
                  << (*compiled)->app_count() << " apps)";
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
