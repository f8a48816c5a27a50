// ConfDirLock: one valet-controlplane per conf dir. Two control planes writing the same dir would
// reuse versions and overwrite each other's changes.
//
// Acquire checks that the dir is writable (the control plane writes its version, its changes and
// this lock there), then holds flock(LOCK_EX | LOCK_NB) on DIR/.valet-lock, with the holder's pid
// in the file, until destroyed (for the process lifetime in valet-controlplane). flock locks belong
// to the open file: a second Acquire on the same dir fails even within one process.
// Not thread-safe (one owner); the destructor releases the lock.
#ifndef VALET_CONTROLPLANE_CONF_DIR_LOCK_H_
#define VALET_CONTROLPLANE_CONF_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace valet {

inline constexpr char kLockFileName[] = ".valet-lock";

class ConfDirLock {
 public:
  // FailedPrecondition "conf dir DIR is in use by another valet-controlplane (pid N)" if held;
  // PermissionDenied "conf dir DIR must be writable by valet-controlplane: ..." if not writable;
  // NotFound if DIR is not a directory.
  static absl::StatusOr<std::unique_ptr<ConfDirLock>> Acquire(const std::string& dir);
  ~ConfDirLock();
  ConfDirLock(const ConfDirLock&) = delete;
  ConfDirLock& operator=(const ConfDirLock&) = delete;

 private:
  explicit ConfDirLock(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CONF_DIR_LOCK_H_
