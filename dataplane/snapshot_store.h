// The serving snapshot of the data plane and the one way to change it.
//
// Install compiles a config snapshot and, if it compiles, hands the result to every worker; a
// snapshot that does not compile never serves and the old one stays (its error is the NACK
// reason). Installs are serialised; workers receive snapshots in install order. Thread-safe.
#ifndef VALET_DATAPLANE_SNAPSHOT_STORE_H_
#define VALET_DATAPLANE_SNAPSHOT_STORE_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "valet/v1/config.pb.h"

namespace valet {

class Worker;

class SnapshotStore {
 public:
  // `max_apps` (0: none) bounds the apps of a snapshot this data plane accepts.
  SnapshotStore(std::vector<Worker*> workers, Metrics& metrics, uint32_t max_apps)
      : workers_(std::move(workers)), metrics_(metrics), max_apps_(max_apps) {}

  absl::Status Install(const v1::ConfigSnapshot& config);

  // The serving snapshot (null before the first install).
  std::shared_ptr<const Snapshot> current() const;
  uint64_t version() const;
  uint64_t epoch() const;  // ConfigSnapshot.epoch of the serving snapshot (0 before the first).

 private:
  std::vector<Worker*> workers_;
  Metrics& metrics_;
  const uint32_t max_apps_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SNAPSHOT_STORE_H_
