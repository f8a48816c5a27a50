// The last good snapshot on disk, so a data plane restarted while the control plane is away still
// serves. One file, DIR/snapshot.binpb, replaced atomically (temp file, fsync, rename, fsync of the
// directory): a crash leaves the old file or the new one, never a mix.
//
// The file is a 20-byte header followed by the binary ConfigSnapshot:
//   "VLTSNAP1" | snapshot length (uint64, little-endian) | CRC-32 of the snapshot (uint32, LE)
// A bare protobuf parse would accept an empty file (version 0, no apps) and many files cut short
// (a snapshot missing its last apps); the header makes such a file recognisable. Version 0 is
// never a snapshot (control planes count from 1): it is neither written nor loaded.
//
// Thread-compatible: one writer at a time (the control client's thread).
#ifndef VALET_DATAPLANE_SNAPSHOT_CACHE_H_
#define VALET_DATAPLANE_SNAPSHOT_CACHE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "valet/v1/config.pb.h"

namespace valet {

inline constexpr char kSnapshotCacheFileName[] = "snapshot.binpb";
inline constexpr char kSnapshotCacheMagic[] = "VLTSNAP1";  // The first 8 bytes of the file.
inline constexpr size_t kSnapshotCacheHeaderBytes = 20;

// The file's contents for `snapshot` (header + snapshot). Internal if it cannot be serialised.
absl::StatusOr<std::string> EncodeSnapshotCache(const v1::ConfigSnapshot& snapshot);

// The snapshot in `bytes`; DataLoss (the reason, without a file name) unless the header, length and
// checksum match, the snapshot parses and its version is not 0.
absl::StatusOr<v1::ConfigSnapshot> DecodeSnapshotCache(std::string_view bytes);

// Writes `snapshot` to DIR/snapshot.binpb atomically; creates DIR if missing. InvalidArgument for
// version 0.
absl::Status SaveSnapshotCache(const std::string& dir, const v1::ConfigSnapshot& snapshot);

// NotFound if there is no cache; DataLoss naming the file and the reason if it is not a complete
// snapshot (empty, cut short, damaged, not written by this format, version 0, too large).
absl::StatusOr<v1::ConfigSnapshot> LoadSnapshotCache(const std::string& dir);

}  // namespace valet

#endif  // VALET_DATAPLANE_SNAPSHOT_CACHE_H_
