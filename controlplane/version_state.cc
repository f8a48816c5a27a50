#include "controlplane/version_state.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/conf_dir.h"
#include "common/logging.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/string_view.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kLastVersion = std::numeric_limits<uint64_t>::max();

std::string DirFile(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

// What an operator can do about a numbering Valet will not guess at.
std::string RenumberAdvice(const std::string& dir) {
  return absl::StrCat("; restore it from a backup, or remove ", DirFile(dir, kVersionFileName),
                      " and ", DirFile(dir, kEpochFileName),
                      " to start a new numbering (every data plane then downloads the whole "
                      "snapshot again)");
}

// The start of `text`, escaped: enough to recognise what is there without flooding the log.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 32;
  std::string shown = absl::CHexEscape(AsAbsl(text.substr(0, kMaxShown)));
  return absl::StrCat("\"", shown, text.size() > kMaxShown ? "\"..." : "\"");
}

// A whole-file decimal number, surrounding whitespace allowed; 0 for anything else (Valet never
// writes 0 to these files, so 0 means "not a valid one").
uint64_t ParseNumber(std::string_view text) {
  std::string_view digits = AsStd(absl::StripAsciiWhitespace(AsAbsl(text)));
  uint64_t n = 0;
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || err != std::errc() || end != digits.data() + digits.size()) return 0;
  return n;
}

// The number in `path`, which must exist; InvalidArgument naming the file if it is not one >= 1.
absl::StatusOr<uint64_t> ReadNumberFile(const std::string& path, std::string_view what,
                                        const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  uint64_t n = ParseNumber(text);
  if (n == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected ", AsAbsl(what), ", got ",
                                                   Quote(text), RenumberAdvice(dir)));
  }
  return n;
}

uint64_t NewEpoch() {
  std::mt19937_64 rng(std::random_device{}() ^
                      static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  uint64_t epoch = 0;
  // Bounded: a 64-bit generator returns zero about once in 2^64 draws.
  for (int i = 0; i < 64 && epoch == 0; ++i) epoch = rng();
  return epoch == 0 ? 1 : epoch;
}

// True if DIR/.valet-digest says the apps on disk are those of `version`, with `digest`.
bool DigestSays(const std::string& dir, uint64_t version, const std::string& digest) {
  std::string path = DirFile(dir, kDigestFileName);
  if (!Exists(path)) return false;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    VALET_LOG(WARNING) << text.status().message() << ": taking the next version";
    return false;
  }
  std::string_view line = AsStd(absl::StripAsciiWhitespace(AsAbsl(*text)));
  size_t space = line.find(' ');
  if (space == std::string_view::npos || ParseNumber(line.substr(0, space)) == 0) {
    VALET_LOG(WARNING) << path << ": unreadable (expected \"VERSION SHA256\"): taking the next "
                       << "version";
    return false;
  }
  return ParseNumber(line.substr(0, space)) == version && line.substr(space + 1) == digest;
}

// The digest file is an optimisation: without it the next start merely takes one more version.
void RecordDigest(const std::string& dir, uint64_t version, const std::string& apps_digest) {
  absl::Status recorded = WriteAppsDigest(dir, version, apps_digest);
  if (!recorded.ok()) VALET_LOG(WARNING) << recorded.message();
}

absl::Status WriteNewNumbering(const std::string& dir, Numbering& numbering,
                               const std::string& apps_digest) {
  numbering.epoch = NewEpoch();
  numbering.version = 1;
  // The epoch first: a crash before the version file leaves an epoch file alone, which the next
  // start recognises (no digest file either) as this step cut short. A digest file of an earlier
  // numbering goes before that, or it would make the next start refuse instead.
  const std::string digest_path = DirFile(dir, kDigestFileName);
  if (::unlink(digest_path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("remove ", digest_path, ": ", std::strerror(errno)));
  }
  RETURN_IF_ERROR(SyncDir(dir));
  RETURN_IF_ERROR(
      WriteFileAtomically(DirFile(dir, kEpochFileName), absl::StrCat(numbering.epoch, "\n")));
  RETURN_IF_ERROR(WriteStoredVersion(dir, numbering.version));
  RecordDigest(dir, numbering.version, apps_digest);
  return absl::OkStatus();
}

}  // namespace

std::string AppsDigest(const v1::ConfigSnapshot& snapshot) {
  Sha256 sha;
  for (const v1::AppConfig& app : snapshot.apps()) {
    std::string bytes = app.SerializeAsString();
    // Length first, so the boundaries between apps are part of what is hashed.
    sha.Update(absl::StrCat(bytes.size(), ":"));
    sha.Update(bytes);
  }
  return ToHex(sha.Finish());
}

absl::StatusOr<uint64_t> ReadStoredVersion(const std::string& dir) {
  std::string path = DirFile(dir, kVersionFileName);
  if (!Exists(path)) return 0;
  return ReadNumberFile(path, "a version number from 1 to 18446744073709551615", dir);
}

absl::Status WriteStoredVersion(const std::string& dir, uint64_t version) {
  return WriteFileAtomically(DirFile(dir, kVersionFileName), absl::StrCat(version, "\n"));
}

absl::Status WriteAppsDigest(const std::string& dir, uint64_t version, const std::string& digest) {
  return WriteFileAtomically(DirFile(dir, kDigestFileName),
                             absl::StrCat(version, " ", digest, "\n"));
}

absl::StatusOr<Numbering> StartNumbering(const std::string& dir, const std::string& apps_digest) {
  const std::string version_path = DirFile(dir, kVersionFileName);
  const std::string epoch_path = DirFile(dir, kEpochFileName);
  const bool has_version = Exists(version_path);
  const bool has_epoch = Exists(epoch_path);
  Numbering numbering;

  if (!has_version) {
    if (has_epoch && Exists(DirFile(dir, kDigestFileName))) {
      return absl::FailedPreconditionError(absl::StrCat(version_path, ": missing, but ", epoch_path,
                                                        " is there, so versions were numbered here",
                                                        RenumberAdvice(dir)));
    }
    if (has_epoch) {
      VALET_LOG(WARNING) << epoch_path << " without " << version_path
                         << ": the first start was cut short; starting a new numbering";
    }
    RETURN_IF_ERROR(WriteNewNumbering(dir, numbering, apps_digest));
    VALET_LOG(INFO) << "new version numbering in " << dir << ": epoch " << numbering.epoch;
    return numbering;
  }

  ASSIGN_OR_RETURN(uint64_t stored, ReadStoredVersion(dir));
  if (!has_epoch) {
    return absl::FailedPreconditionError(absl::StrCat(epoch_path, ": missing, but ", version_path,
                                                      " (version ", stored, ") is there",
                                                      RenumberAdvice(dir)));
  }
  ASSIGN_OR_RETURN(numbering.epoch, ReadNumberFile(epoch_path, "a non-zero epoch number", dir));

  if (DigestSays(dir, stored, apps_digest)) {
    numbering.version = stored;
    numbering.kept = true;
    return numbering;
  }
  if (stored == kLastVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(version_path, ": version ", stored,
                     " is the last one and the apps changed since it; remove ", version_path,
                     " and ", epoch_path, " to start a new numbering"));
  }
  numbering.version = stored + 1;
  RETURN_IF_ERROR(WriteStoredVersion(dir, numbering.version));
  RecordDigest(dir, numbering.version, apps_digest);
  return numbering;
}

}  // namespace valet
