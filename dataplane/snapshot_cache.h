// The last good snapshot on disk, so a data plane restarted while the control plane is away still
// serves. One file, DIR/snapshot.binpb (binary protobuf), replaced atomically.
// Thread-compatible: one writer at a time (the control client's thread).
#ifndef VALET_DATAPLANE_SNAPSHOT_CACHE_H_
#define VALET_DATAPLANE_SNAPSHOT_CACHE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "valet/v1/config.pb.h"

namespace valet {

inline constexpr char kSnapshotCacheFileName[] = "snapshot.binpb";

// Writes `snapshot` to DIR/snapshot.binpb (temp file, fsync, rename); creates DIR if missing.
absl::Status SaveSnapshotCache(const std::string& dir, const v1::ConfigSnapshot& snapshot);

// NotFound if there is no cache; DataLoss if it cannot be parsed.
absl::StatusOr<v1::ConfigSnapshot> LoadSnapshotCache(const std::string& dir);

}  // namespace valet

#endif  // VALET_DATAPLANE_SNAPSHOT_CACHE_H_
