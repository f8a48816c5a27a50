// A change to several files of the conf dir, made all or nothing across a crash.
//
// The writer (AppStore) first writes every new file as a synced temp file (DIR/.valet-txn.V.I),
// then records the intent (DIR/.valet-intent, written atomically): the new version, each rename
// with the size and SHA-256 its temp file must have, and the removals. It then performs it. From
// the moment the intent is durable the change happens, now or at the next start, but only if
// every file it names is what it says: at start, RecoverIntent completes an intent whose temp
// files (or, for a rename already done, target files) all match, and discards any other (cut
// short, corrupt, a temp file truncated, altered or missing), keeping the state from before the
// change. The intent ends with the SHA-256 of its own text, so a torn or altered intent is never
// taken for a whole one.
//
// Not thread-safe: the caller holds the conf dir (ConfDirLock) and serialises its changes.
#ifndef VALET_CONTROLPLANE_CHANGE_INTENT_H_
#define VALET_CONTROLPLANE_CHANGE_INTENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace valet {

inline constexpr char kIntentFileName[] = ".valet-intent";
inline constexpr char kTxnFilePrefix[] = ".valet-txn.";  // + VERSION.INDEX

// File names are relative to the conf dir.
struct IntentRename {
  std::string temp;    // kTxnFilePrefix...
  std::string target;  // The app file it becomes.
  uint64_t size = 0;   // What the temp file holds: its size and SHA-256 (lower-case hex).
  std::string sha256;
};

struct ChangeIntent {
  uint64_t version = 0;
  // AppsDigest of the apps once the change is made: recorded with the version when it is, so a
  // restart after a completed change keeps that version (version_state.h).
  std::string apps_digest;
  std::vector<IntentRename> renames;
  std::vector<std::string> removes;
};

// The rename of `temp` (holding `contents`) to `target`.
IntentRename RenameOf(std::string temp, std::string target, std::string_view contents);

// True if `name` can be recorded in an intent: a plain file name (no '/', no line break, not "."
// or "..").
bool IsRecordableName(std::string_view name);

// The text of DIR/.valet-intent. Every name must be IsRecordableName.
std::string SerializeIntent(const ChangeIntent& intent);

// InvalidArgument saying why unless `text` is a whole SerializeIntent text whose own checksum
// matches. The reason never quotes the text.
absl::StatusOr<ChangeIntent> ParseIntent(std::string_view text);

// Performs a recorded change: the version file, the renames (a missing temp file counts as
// renamed already), the removals, a dir fsync, the digest file, then removes the intent.
// Idempotent: safe to run again after a crash. Does not check the temp files: RecoverIntent does
// before calling it.
absl::Status PerformIntent(const std::string& dir, const ChangeIntent& intent);

// At start, before the apps are loaded: completes or discards DIR/.valet-intent (see above), then
// removes every temp file an interrupted change or atomic write left behind. Errors only when the
// dir cannot be read or written.
absl::Status RecoverIntent(const std::string& dir);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CHANGE_INTENT_H_
