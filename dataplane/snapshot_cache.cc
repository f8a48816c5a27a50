#include "dataplane/snapshot_cache.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/status_macros.h"

namespace valet {
namespace {

std::string CachePath(const std::string& dir) {
  return (std::filesystem::path(dir) / kSnapshotCacheFileName).string();
}

}  // namespace

absl::Status SaveSnapshotCache(const std::string& dir, const v1::ConfigSnapshot& snapshot) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  std::string bytes;
  if (!snapshot.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise the snapshot");
  }
  return WriteFileAtomically(CachePath(dir), bytes);
}

absl::StatusOr<v1::ConfigSnapshot> LoadSnapshotCache(const std::string& dir) {
  std::string path = CachePath(dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no cached snapshot"));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  v1::ConfigSnapshot snapshot;
  if (!snapshot.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid snapshot"));
  }
  return snapshot;
}

}  // namespace valet
