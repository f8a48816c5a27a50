// The serving snapshot of the data plane and the one way to change it.
//
// Install compiles a config snapshot and, if it compiles, hands the result to every worker; a
// snapshot that does not compile never serves and the old one stays (its error is the NACK
// reason). Installs are serialised; workers receive snapshots in install order. A snapshot serves
// once every worker has swapped it in on its own thread: that, not the hand-off, is what the
// control client ACKs and what "serving config version N" is logged for. Thread-safe.
#ifndef VALET_DATAPLANE_SNAPSHOT_STORE_H_
#define VALET_DATAPLANE_SNAPSHOT_STORE_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/limits/rate_limits.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "valet/v1/config.pb.h"

namespace valet {

class Worker;

class SnapshotStore {
 public:
  // `max_apps` (0: none) bounds the apps of a snapshot this data plane accepts.
  SnapshotStore(std::vector<Worker*> workers, Metrics& metrics, RateLimits& limits,
                uint32_t max_apps)
      : workers_(std::move(workers)), metrics_(metrics), limits_(limits), max_apps_(max_apps) {}

  // OK once the snapshot compiled and every worker has it queued. Then `served` (may be empty)
  // runs once, on the thread of the last worker to swap it in (possibly before Install returns),
  // when every worker serves it; never if Install fails or a worker stops first. It runs on an
  // event loop: it must not block. A snapshot installed before the workers start is served as
  // each worker's first handler, before any connection.
  absl::Status Install(const v1::ConfigSnapshot& config, std::function<void()> served = {});

  // The snapshot of the last good install (null before the first), which workers serve or
  // are about to.
  std::shared_ptr<const Snapshot> current() const;
  uint64_t version() const;
  uint64_t epoch() const;  // ConfigSnapshot.epoch of the serving snapshot (0 before the first).

 private:
  std::vector<Worker*> workers_;
  Metrics& metrics_;
  RateLimits& limits_;
  const uint32_t max_apps_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SNAPSHOT_STORE_H_
