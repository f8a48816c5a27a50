// The numbering of a conf dir's snapshots, kept in hidden files beside the apps (LoadConfDir
// ignores them), each written atomically:
//
//   DIR/.valet-version  the last version: "N\n", 1 <= N <= 2^64-1.
//   DIR/.valet-epoch    the numbering's random non-zero id: "E\n". Made with the first version
//                       file; a version only means something within its epoch.
//   DIR/.valet-digest   "N SHA256\n": the apps on disk are those of version N, whose AppsDigest
//                       is SHA256. Written once the files of N are all on disk. Only an
//                       optimisation: when it is missing, stale or unreadable the version moves on.
//
// A restart keeps the stored version when the digest file says the apps are still those of that
// version, so data planes serving it need nothing; any other restart takes the next version.
// Version and epoch go together: a dir with one and not the other, or either unreadable or zero,
// is refused (naming the file) rather than silently renumbered. Not thread-safe: the caller holds
// the conf dir (ConfDirLock) and serialises its changes.
#ifndef VALET_CONTROLPLANE_VERSION_STATE_H_
#define VALET_CONTROLPLANE_VERSION_STATE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "valet/v1/config.pb.h"

namespace valet {

inline constexpr char kVersionFileName[] = ".valet-version";
inline constexpr char kEpochFileName[] = ".valet-epoch";
inline constexpr char kDigestFileName[] = ".valet-digest";

// The SHA-256 (hex) of the apps of `snapshot`, in their order; version and epoch are left out, so
// the same apps give the same digest under any version.
std::string AppsDigest(const v1::ConfigSnapshot& snapshot);

// The stored version; 0 when DIR/.valet-version does not exist. InvalidArgument naming the file
// when it holds anything but a number from 1 to 2^64-1.
absl::StatusOr<uint64_t> ReadStoredVersion(const std::string& dir);
absl::Status WriteStoredVersion(const std::string& dir, uint64_t version);

// Records that the apps on disk are those of `version`. Call only once every file of that version
// is durable.
absl::Status WriteAppsDigest(const std::string& dir, uint64_t version, const std::string& digest);

struct Numbering {
  uint64_t epoch = 0;
  uint64_t version = 0;
  bool kept = false;  // The stored version was kept (the apps are unchanged since it).
};

// The numbering a control plane starts with, for apps whose AppsDigest is `apps_digest`; persists
// it (version and digest files; epoch file for a new numbering) before returning.
//  - no version and no epoch file: a new numbering (new epoch, version 1);
//  - both: the stored version if the digest file says the apps are still those of it, else the
//    next one (FailedPrecondition if the stored version is the last one, 2^64-1);
//  - one without the other, or an unreadable or zero one: FailedPrecondition / InvalidArgument
//    naming the file and saying how to start a new numbering. Exception: an epoch file alone with
//    no digest file is a first start that was cut short (the epoch is written first), and starts
//    a new numbering.
absl::StatusOr<Numbering> StartNumbering(const std::string& dir, const std::string& apps_digest);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_VERSION_STATE_H_
