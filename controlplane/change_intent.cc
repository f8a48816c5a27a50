#include "controlplane/change_intent.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/conf_dir.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "controlplane/version_state.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

// Version 1 (before checksums) is refused by ParseIntent: its temp files cannot be checked.
constexpr char kIntentHeader[] = "valet-intent 2";
constexpr char kEndPrefix[] = "end ";

std::string DirFile(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

absl::Status RemoveFileAndSync(const std::string& dir, const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("remove ", path, ": ", std::strerror(errno)));
  }
  return SyncDir(dir);
}

absl::Status Malformed(std::string_view why) { return absl::InvalidArgumentError(AsAbsl(why)); }

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The pieces of `text` between `sep`s; with max_splits > 0, the last piece is the rest of the text.
std::vector<std::string_view> SplitOn(std::string_view text, char sep, size_t max_splits) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t pos = text.find(sep); pos != std::string_view::npos; pos = text.find(sep, start)) {
    if (max_splits > 0 && pieces.size() == max_splits) break;
    pieces.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
  pieces.push_back(text.substr(start));
  return pieces;
}

// Removes what an interrupted change leaves behind: its temp files, and the hidden temp files of
// an interrupted atomic write (".NAME.tmp.PID.N"). Safe under the conf dir lock: nobody else
// writes here.
void RemoveLeftoverTempFiles(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  std::vector<fs::path> stale;
  for (; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    bool atomic_write_temp = name.front() == '.' && name.find(".tmp.") != std::string::npos;
    if (absl::StartsWith(name, kTxnFilePrefix) || atomic_write_temp) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) ::unlink(p.c_str());
}

// Whether `path` holds exactly `size` bytes with this SHA-256; if not, `why` says how it differs
// (sizes and checksums only: the contents may hold keys).
bool Holds(const std::string& path, const IntentRename& rename, std::string* why) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    *why = absl::StrCat(path, " is missing or unreadable");
    return false;
  }
  if (text->size() != rename.size) {
    *why = absl::StrCat(path, " is ", text->size(), " bytes, the change recorded ", rename.size);
    return false;
  }
  if (Sha256Hex(*text) != rename.sha256) {
    *why = absl::StrCat(path, " does not match the SHA-256 the change recorded");
    return false;
  }
  return true;
}

// OK if every rename of `intent` can be completed: its temp file holds what was recorded, or the
// temp file is gone and its target already does (renamed before a crash). Otherwise the reason.
// `done` receives the targets already renamed.
absl::Status CheckFiles(const std::string& dir, const ChangeIntent& intent,
                        std::vector<std::string>* done) {
  for (const IntentRename& r : intent.renames) {
    std::string temp = DirFile(dir, r.temp), target = DirFile(dir, r.target);
    std::error_code ec;
    std::string why;
    if (fs::exists(fs::symlink_status(temp, ec))) {
      if (!Holds(temp, r, &why)) return absl::DataLossError(why);
      continue;
    }
    if (!Holds(target, r, &why)) {
      return absl::DataLossError(absl::StrCat(temp, " is missing and ", r.target,
                                              " does not hold what it should (", why, ")"));
    }
    done->push_back(target);
  }
  return absl::OkStatus();
}

}  // namespace

IntentRename RenameOf(std::string temp, std::string target, std::string_view contents) {
  return IntentRename{std::move(temp), std::move(target), contents.size(), Sha256Hex(contents)};
}

bool IsRecordableName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\n') == std::string_view::npos && name.find('\r') == std::string_view::npos;
}

std::string SerializeIntent(const ChangeIntent& intent) {
  std::string out = absl::StrCat(kIntentHeader, "\nversion ", intent.version, "\ndigest ",
                                 intent.apps_digest, "\n");
  // The temp name has no spaces (Valet makes it), so the target is the rest of the line.
  for (const IntentRename& r : intent.renames) {
    absl::StrAppend(&out, "rename ", r.size, " ", r.sha256, " ", r.temp, " ", r.target, "\n");
  }
  for (const std::string& f : intent.removes) absl::StrAppend(&out, "remove ", f, "\n");
  absl::StrAppend(&out, kEndPrefix, Sha256Hex(out), "\n");
  return out;
}

absl::StatusOr<ChangeIntent> ParseIntent(std::string_view text) {
  if (absl::StartsWith(AsAbsl(text), "valet-intent 1\n")) {
    return Malformed(
        "written by an older valet-controlplane, without the checksums to check it by");
  }
  // The checksum line first: it proves the record is whole before anything in it is believed.
  if (text.empty() || text.back() != '\n') return Malformed("cut short (no final line break)");
  std::string_view content = text.substr(0, text.size() - 1);
  size_t last_line = content.rfind('\n');
  last_line = last_line == std::string_view::npos ? 0 : last_line + 1;
  std::string_view end_line = content.substr(last_line);
  if (!absl::StartsWith(AsAbsl(end_line), kEndPrefix)) {
    return Malformed("cut short (no \"end\" line)");
  }
  std::string_view body = text.substr(0, last_line);
  if (end_line.substr(std::strlen(kEndPrefix)) != Sha256Hex(body)) {
    return Malformed("its checksum does not match its contents (cut short or altered)");
  }

  std::vector<std::string_view> lines = SplitOn(body, '\n', 0);
  lines.pop_back();  // After the final '\n' of the body.
  if (lines.size() < 3 || lines[0] != kIntentHeader) {
    return Malformed(absl::StrCat("not a \"", kIntentHeader, "\" record"));
  }
  ChangeIntent intent;
  if (!absl::StartsWith(AsAbsl(lines[1]), "version ") ||
      !absl::SimpleAtoi(AsAbsl(lines[1].substr(8)), &intent.version) || intent.version == 0) {
    return Malformed("line 2: expected \"version N\"");
  }
  if (!absl::StartsWith(AsAbsl(lines[2]), "digest ") || !IsSha256Hex(lines[2].substr(7))) {
    return Malformed("line 3: expected \"digest SHA256\"");
  }
  intent.apps_digest = std::string(lines[2].substr(7));
  for (size_t i = 3; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::string where = absl::StrCat("line ", i + 1, ": ");
    if (absl::StartsWith(AsAbsl(line), "rename ")) {
      // rename SIZE SHA256 TEMP TARGET (TARGET may hold spaces).
      std::vector<std::string_view> parts = SplitOn(line.substr(7), ' ', 3);
      IntentRename r;
      if (parts.size() != 4 || !absl::SimpleAtoi(AsAbsl(parts[0]), &r.size) ||
          !IsSha256Hex(parts[1]) || !absl::StartsWith(AsAbsl(parts[2]), kTxnFilePrefix) ||
          !IsRecordableName(parts[2]) || !IsRecordableName(parts[3])) {
        return Malformed(where + "expected \"rename SIZE SHA256 TEMP TARGET\"");
      }
      r.sha256 = std::string(parts[1]);
      r.temp = std::string(parts[2]);
      r.target = std::string(parts[3]);
      intent.renames.push_back(std::move(r));
    } else if (absl::StartsWith(AsAbsl(line), "remove ")) {
      std::string_view f = line.substr(7);
      if (!IsRecordableName(f)) return Malformed(where + "expected \"remove FILE\"");
      intent.removes.emplace_back(f);
    } else {
      return Malformed(where + "expected \"rename\" or \"remove\"");
    }
  }
  return intent;
}

absl::Status PerformIntent(const std::string& dir, const ChangeIntent& intent) {
  ASSIGN_OR_RETURN(uint64_t stored, ReadStoredVersion(dir));
  if (stored < intent.version) RETURN_IF_ERROR(WriteStoredVersion(dir, intent.version));
  for (const IntentRename& r : intent.renames) {
    std::string from = DirFile(dir, r.temp), to = DirFile(dir, r.target);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(
          absl::StrCat("rename ", from, " to ", to, ": ", std::strerror(errno)));
    }
  }
  for (const std::string& f : intent.removes) {
    std::string path = DirFile(dir, f);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(absl::StrCat("remove ", path, ": ", std::strerror(errno)));
    }
  }
  RETURN_IF_ERROR(SyncDir(dir));
  // After the files: the record says the apps on disk are this version's.
  if (absl::Status s = WriteAppsDigest(dir, intent.version, intent.apps_digest); !s.ok()) {
    // Not fatal: without it a restart merely takes one more version.
    VALET_LOG(WARNING) << s.message();
  }
  return RemoveFileAndSync(dir, DirFile(dir, kIntentFileName));
}

absl::Status RecoverIntent(const std::string& dir) {
  const std::string path = DirFile(dir, kIntentFileName);
  std::error_code ec;
  if (fs::exists(fs::symlink_status(path, ec))) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    absl::StatusOr<ChangeIntent> intent = ParseIntent(text);
    std::vector<std::string> done;
    absl::Status complete = intent.ok() ? CheckFiles(dir, *intent, &done) : intent.status();
    if (complete.ok()) {
      RETURN_IF_ERROR(PerformIntent(dir, *intent));
      VALET_LOG(INFO) << "completed the change to version " << intent->version
                      << " that was interrupted (" << intent->renames.size() << " files written, "
                      << intent->removes.size() << " removed)";
    } else if (done.empty()) {
      VALET_LOG(WARNING) << "discarding the interrupted change recorded in " << path << ": "
                         << complete.message() << "; the conf dir keeps its state from before it";
      RETURN_IF_ERROR(RemoveFileAndSync(dir, path));
    } else {
      // Only if something other than Valet removed a temp file after the change began: the files
      // already renamed cannot be taken back.
      VALET_LOG(ERROR) << "discarding the interrupted change to version " << intent->version
                       << " recorded in " << path << ": " << complete.message()
                       << "; these files already hold that change and keep it: "
                       << absl::StrJoin(done, ", ");
      RETURN_IF_ERROR(RemoveFileAndSync(dir, path));
    }
  }
  RemoveLeftoverTempFiles(dir);
  return SyncDir(dir);
}

}  // namespace valet
