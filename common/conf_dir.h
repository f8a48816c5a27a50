// The conf dir: one JSON file per app (DIR/NAME.json), the source of truth for app configs.
#ifndef VALET_COMMON_CONF_DIR_H_
#define VALET_COMMON_CONF_DIR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/app_config_validation.h"
#include "valet/v1/config.pb.h"

namespace valet {

// Loads every *.json file of `dir` (not recursive; other files are ignored), parses and validates
// the whole set. On failure the status lists every error of every file, one per line.
// `redacted`: see RedactedKeys (a conf dir never holds redacted keys).
absl::StatusOr<std::vector<SourcedApp>> LoadConfDir(const std::string& dir,
                                                    RedactedKeys redacted = RedactedKeys::kRefused);

// Loads `path`: a single *.json file or a conf dir. Parsed and validated like LoadConfDir.
absl::StatusOr<std::vector<SourcedApp>> LoadAppsFromPath(
    const std::string& path, RedactedKeys redacted = RedactedKeys::kRefused);

// Writes DIR/NAME.json atomically: a temp file in DIR, fsync, rename, fsync of DIR.
// A crash at any point leaves the old file or the new one, never a half-written one.
// InvalidArgument if the name is not a valid app name (IsValidAppName).
absl::Status WriteAppFile(const std::string& dir, const v1::AppConfig& app);

// Removes DIR/NAME.json and syncs DIR. OK if the file is already gone; InvalidArgument if the name
// is not a valid app name.
absl::Status RemoveAppFile(const std::string& dir, const std::string& name);

// Who may access a file written over an existing one.
enum class FileAccess {
  kKeepMode,   // The replaced file's mode, whatever it is.
  kOwnerOnly,  // The replaced file's mode without its group and other bits (0644 -> 0600): for
               // contents that hold a secret, which must not stay readable because the file it
               // replaces was.
};

// Writes `contents` to `path` atomically (same guarantees as WriteAppFile). A replaced file keeps
// its mode (less its group and other bits with kOwnerOnly) and its owner when running as root; a
// new file is created 0600.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                 FileAccess access = FileAccess::kKeepMode);

// Creates (or truncates) `path`, writes `contents` and fsyncs it; no rename, no dir fsync. The
// mode (and owner, as root) is that of `mode_of` if it is an existing regular file (less its group
// and other bits with kOwnerOnly), else 0600. On failure `path` is removed. The building block of
// WriteFileAtomically and of multi-file changes that rename several such files themselves.
absl::Status WriteSyncedFile(const std::string& path, std::string_view contents,
                             const std::string& mode_of, FileAccess access = FileAccess::kKeepMode);

// fsyncs the directory `dir` (so renames and removals in it are durable).
absl::Status SyncDir(const std::string& dir);

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace valet

#endif  // VALET_COMMON_CONF_DIR_H_
