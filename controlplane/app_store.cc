#include "controlplane/app_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/strings/str_cat.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/string_view.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

std::string VersionPath(const std::string& dir) { return (fs::path(dir) / kVersionFileName).string(); }

// 0 when the file does not exist.
absl::StatusOr<uint64_t> ReadStoredVersion(const std::string& dir) {
  std::string path = VersionPath(dir);
  std::error_code ec;
  if (!fs::exists(path, ec)) return 0;
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string_view digits = AsStd(absl::StripAsciiWhitespace(AsAbsl(text)));
  uint64_t v = 0;
  auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (err != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a version number, got \"", AsAbsl(digits), "\""));
  }
  return v;
}

absl::Status WriteStoredVersion(const std::string& dir, uint64_t version) {
  return WriteFileAtomically(VersionPath(dir), absl::StrCat(version, "\n"));
}

std::string DirFile(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

// The epoch of the dir's numbering: kept while the version file exists, else a new one.
absl::StatusOr<uint64_t> LoadOrCreateEpoch(const std::string& dir, bool version_file_exists) {
  std::string path = DirFile(dir, kEpochFileName);
  if (version_file_exists) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (text.ok()) {
      std::string_view digits = AsStd(absl::StripAsciiWhitespace(AsAbsl(*text)));
      uint64_t e = 0;
      auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), e);
      if (err == std::errc() && end == digits.data() + digits.size() && e != 0) return e;
    }
  }
  std::mt19937_64 rng(std::random_device{}() ^
                      static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  uint64_t epoch = 0;
  while (epoch == 0) epoch = rng();
  RETURN_IF_ERROR(WriteFileAtomically(path, absl::StrCat(epoch, "\n")));
  return epoch;
}

absl::Status RemoveFileAndSync(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("remove ", path, ": ", std::strerror(errno)));
  }
  fs::path parent = fs::path(path).parent_path();
  return SyncDir(parent.empty() ? std::string(".") : parent.string());
}

// A recorded change: what .valet-intent says. File names are relative to the conf dir.
struct Intent {
  uint64_t version = 0;
  std::vector<std::pair<std::string, std::string>> renames;  // temp file -> app file.
  std::vector<std::string> removes;
};

constexpr char kIntentHeader[] = "valet-intent 1";

std::string SerializeIntent(const Intent& intent) {
  std::string out = absl::StrCat(kIntentHeader, "\nversion ", intent.version, "\n");
  for (const auto& [tmp, target] : intent.renames) absl::StrAppend(&out, "rename ", tmp, " ", target, "\n");
  for (const std::string& f : intent.removes) absl::StrAppend(&out, "remove ", f, "\n");
  out += "end\n";
  return out;
}

bool IsPlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

// nullopt unless the whole record is there (a crash may cut it short) and well formed.
std::optional<Intent> ParseIntent(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (lines.size() < 4 || lines[0] != kIntentHeader || !lines.back().empty() ||
      lines[lines.size() - 2] != "end") {
    return std::nullopt;
  }
  Intent intent;
  if (!absl::StartsWith(lines[1], "version ") ||
      !absl::SimpleAtoi(lines[1].substr(8), &intent.version) || intent.version == 0) {
    return std::nullopt;
  }
  for (size_t i = 2; i + 2 < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (absl::StartsWith(line, "rename ")) {
      std::string rest = line.substr(7);
      size_t space = rest.find(' ');
      if (space == std::string::npos) return std::nullopt;
      std::string tmp = rest.substr(0, space), target = rest.substr(space + 1);
      if (!absl::StartsWith(tmp, kTxnFilePrefix) || !IsPlainName(tmp) || !IsPlainName(target)) {
        return std::nullopt;
      }
      intent.renames.emplace_back(std::move(tmp), std::move(target));
    } else if (absl::StartsWith(line, "remove ")) {
      std::string f = line.substr(7);
      if (!IsPlainName(f)) return std::nullopt;
      intent.removes.push_back(std::move(f));
    } else {
      return std::nullopt;
    }
  }
  return intent;
}

// Removes every temp file of a change (.valet-txn.*): after a discarded or completed intent.
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

// Performs a recorded change: version file, renames (a missing temp file was renamed already),
// removals, dir fsync, then removes the intent. Idempotent: safe to run again after a crash.
absl::Status PerformIntent(const std::string& dir, const Intent& intent) {
  ASSIGN_OR_RETURN(uint64_t stored, ReadStoredVersion(dir));
  if (stored < intent.version) RETURN_IF_ERROR(WriteStoredVersion(dir, intent.version));
  for (const auto& [tmp, target] : intent.renames) {
    std::string from = DirFile(dir, tmp), to = DirFile(dir, target);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(absl::StrCat("rename ", from, " to ", to, ": ", std::strerror(errno)));
    }
  }
  for (const std::string& f : intent.removes) {
    std::string path = DirFile(dir, f);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::InternalError(absl::StrCat("remove ", path, ": ", std::strerror(errno)));
    }
  }
  RETURN_IF_ERROR(SyncDir(dir));
  return RemoveFileAndSync(DirFile(dir, kIntentFileName));
}

// At Open: completes a recorded change, or discards one cut short, and removes stray temp files.
absl::Status RecoverIntent(const std::string& dir) {
  std::string path = DirFile(dir, kIntentFileName);
  std::error_code ec;
  if (fs::exists(path, ec)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    std::optional<Intent> intent = ParseIntent(text);
    if (intent.has_value()) {
      RETURN_IF_ERROR(PerformIntent(dir, *intent));
      VALET_LOG(INFO) << "completed the change to version " << intent->version
                      << " that was interrupted (" << intent->renames.size() << " files written, "
                      << intent->removes.size() << " removed)";
    } else {
      VALET_LOG(WARNING) << "discarding " << path
                         << ": an incomplete change record (the change never started)";
      RETURN_IF_ERROR(RemoveFileAndSync(path));
    }
  }
  RemoveLeftoverTempFiles(dir);
  return SyncDir(dir);
}

// The snapshot wrapped in its attach-stream message, built once; the snapshot points into it.
std::shared_ptr<const v1::ControlPlaneMessage> MakeMessage(
    uint64_t version, uint64_t epoch, const std::map<std::string, v1::AppConfig>& apps) {
  auto message = std::make_shared<v1::ControlPlaneMessage>();
  v1::ConfigSnapshot* snap = message->mutable_snapshot();
  snap->set_version(version);
  snap->set_epoch(epoch);
  for (const auto& [name, app] : apps) *snap->add_apps() = app;
  return message;
}

std::shared_ptr<const v1::ConfigSnapshot> SnapshotOf(
    const std::shared_ptr<const v1::ControlPlaneMessage>& message) {
  return std::shared_ptr<const v1::ConfigSnapshot>(message, &message->snapshot());
}

bool SameApp(const v1::AppConfig& a, const v1::AppConfig& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppStore>> AppStore::Open(const std::string& conf_dir) {
  std::error_code ec;
  if (fs::is_directory(conf_dir, ec)) RETURN_IF_ERROR(RecoverIntent(conf_dir));
  ASSIGN_OR_RETURN(std::vector<SourcedApp> apps, LoadConfDir(conf_dir));
  bool version_file_exists = fs::exists(VersionPath(conf_dir), ec);
  ASSIGN_OR_RETURN(uint64_t stored, ReadStoredVersion(conf_dir));
  // The epoch first: a crash before the version file is written makes a new epoch next time.
  ASSIGN_OR_RETURN(uint64_t epoch, LoadOrCreateEpoch(conf_dir, version_file_exists));
  uint64_t version = stored + 1;
  RETURN_IF_ERROR(WriteStoredVersion(conf_dir, version));
  Entries entries;
  for (SourcedApp& s : apps) {
    std::string name = s.app.name();
    entries.emplace(std::move(name), Entry{std::move(s.app), std::move(s.source)});
  }
  VALET_LOG(INFO) << "loaded " << entries.size() << " apps from " << conf_dir << ", version "
                  << version << ", epoch " << epoch;
  return std::unique_ptr<AppStore>(new AppStore(conf_dir, std::move(entries), version, epoch));
}

AppStore::AppStore(std::string conf_dir, Entries entries, uint64_t version, uint64_t epoch)
    : conf_dir_(std::move(conf_dir)), epoch_(epoch), entries_(std::move(entries)), version_(version) {
  std::map<std::string, v1::AppConfig> apps;
  for (const auto& [name, e] : entries_) apps.emplace(name, e.app);
  message_ = MakeMessage(version_, epoch_, apps);
  snapshot_ = SnapshotOf(message_);
}

std::shared_ptr<const v1::ControlPlaneMessage> AppStore::snapshot_message() const {
  absl::MutexLock lock(&snapshot_mu_);
  return message_;
}

std::string AppStore::FreePathFor(const std::string& name, const std::set<std::string>& used) const {
  std::string path = DirFile(conf_dir_, name + ".json");
  constexpr int kMaxTries = 10000;
  for (int i = 2; i <= kMaxTries; ++i) {
    std::error_code ec;
    if (used.count(path) == 0 && !fs::exists(fs::symlink_status(path, ec))) return path;
    path = DirFile(conf_dir_, absl::StrCat(name, "-", i, ".json"));
  }
  return "";
}

std::shared_ptr<const v1::ConfigSnapshot> AppStore::snapshot() const {
  absl::MutexLock lock(&snapshot_mu_);
  return snapshot_;
}

uint64_t AppStore::version() const { return snapshot()->version(); }

absl::StatusOr<v1::AppConfig> AppStore::Get(const std::string& name) const {
  std::shared_ptr<const v1::ConfigSnapshot> snap = snapshot();
  for (const v1::AppConfig& app : snap->apps()) {
    if (app.name() == name) return app;
  }
  return absl::NotFoundError(absl::StrCat("no app named \"", name, "\""));
}

absl::Status AppStore::CheckExpected(const ChangeOptions& options) const {
  if (options.expected_version != 0 && options.expected_version != version_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expected version ", options.expected_version, ", current is ", version_));
  }
  return absl::OkStatus();
}

absl::Status AppStore::ValidateLocked(const std::vector<SourcedApp>& apps) const {
  if (apps.empty()) return absl::InvalidArgumentError("no apps given");
  std::vector<SourcedApp> set;
  set.reserve(entries_.size() + apps.size());
  for (const auto& [name, e] : entries_) {
    bool replaced = false;
    for (const SourcedApp& s : apps) replaced = replaced || s.app.name() == name;
    if (!replaced) set.push_back({e.app, e.path});
  }
  for (const SourcedApp& s : apps) set.push_back(s);
  return ValidateAppSet(set);
}

absl::Status AppStore::Validate(const std::vector<SourcedApp>& apps) const {
  absl::MutexLock lock(&mu_);
  return ValidateLocked(apps);
}

absl::StatusOr<uint64_t> AppStore::Apply(const std::vector<SourcedApp>& apps,
                                         const ChangeOptions& options) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckExpected(options));
  RETURN_IF_ERROR(ValidateLocked(apps));
  if (options.dry_run) return version_;

  Entries next = entries_;
  std::set<std::string> used;  // Files of the apps: a new app must not take one of them.
  for (const auto& [name, e] : next) used.insert(e.path);
  std::vector<std::string> changed;
  for (const SourcedApp& s : apps) {
    auto it = next.find(s.app.name());
    if (it == next.end()) {
      std::string path = FreePathFor(s.app.name(), used);
      if (path.empty()) {
        return absl::ResourceExhaustedError(
            absl::StrCat("no free file name for app \"", s.app.name(), "\" in ", conf_dir_));
      }
      if (fs::path(path).filename() != s.app.name() + ".json") {
        VALET_LOG(INFO) << "app " << s.app.name() << " goes to " << path << ": "
                        << s.app.name() << ".json holds another app";
      }
      used.insert(path);
      next.emplace(s.app.name(), Entry{s.app, std::move(path)});
    } else {
      it->second.app = s.app;
    }
    changed.push_back(s.app.name());
  }
  std::sort(changed.begin(), changed.end());
  return CommitLocked(std::move(next), std::move(changed), {}, /*write_files=*/true);
}

absl::StatusOr<uint64_t> AppStore::Delete(const std::string& name, const ChangeOptions& options) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckExpected(options));
  if (entries_.find(name) == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no app named \"", name, "\""));
  }
  if (options.dry_run) return version_;
  Entries next = entries_;
  next.erase(name);
  return CommitLocked(std::move(next), {}, {name}, /*write_files=*/true);
}

absl::StatusOr<uint64_t> AppStore::Reload() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<SourcedApp> apps, LoadConfDir(conf_dir_));
  Entries next;
  for (SourcedApp& s : apps) {
    std::string name = s.app.name();
    next.emplace(std::move(name), Entry{std::move(s.app), std::move(s.source)});
  }
  std::vector<std::string> changed, deleted;
  for (const auto& [name, e] : next) {
    auto it = entries_.find(name);
    if (it == entries_.end() || !SameApp(it->second.app, e.app)) changed.push_back(name);
  }
  for (const auto& [name, e] : entries_) {
    if (next.find(name) == next.end()) deleted.push_back(name);
  }
  if (changed.empty() && deleted.empty()) {
    entries_ = std::move(next);  // Paths may have moved; contents did not.
    return version_;
  }
  // The files are already on disk.
  return CommitLocked(std::move(next), std::move(changed), std::move(deleted),
                      /*write_files=*/false);
}

absl::StatusOr<uint64_t> AppStore::CommitLocked(Entries next, std::vector<std::string> changed,
                                                std::vector<std::string> deleted,
                                                bool write_files) {
  RETURN_IF_ERROR(failed_);
  uint64_t version = version_ + 1;
  if (!write_files) {
    // Reload: the files are on disk already; only the version moves.
    RETURN_IF_ERROR(WriteStoredVersion(conf_dir_, version));
  } else {
    // 1. Every new file as a synced temp file. Nothing is changed yet: on failure remove them.
    Intent intent;
    intent.version = version;
    std::vector<std::string> temps;
    auto discard = [&temps] {
      for (const std::string& t : temps) ::unlink(t.c_str());
    };
    for (const std::string& name : changed) {
      const Entry& e = next.at(name);
      std::string tmp_name = absl::StrCat(kTxnFilePrefix, version, ".", temps.size());
      std::string tmp = DirFile(conf_dir_, tmp_name);
      absl::Status written = WriteSyncedFile(tmp, AppConfigToJson(e.app), e.path);
      if (!written.ok()) {
        discard();
        return written;
      }
      temps.push_back(tmp);
      intent.renames.emplace_back(tmp_name, fs::path(e.path).filename().string());
    }
    for (const std::string& name : deleted) {
      intent.removes.push_back(fs::path(entries_.at(name).path).filename().string());
    }
    // 2. The intent, durable (temp file, fsync, rename, dir fsync): from here the change happens,
    // now or at the next Open.
    absl::Status recorded =
        WriteFileAtomically(DirFile(conf_dir_, kIntentFileName), SerializeIntent(intent));
    if (!recorded.ok()) {
      discard();
      ::unlink(DirFile(conf_dir_, kIntentFileName).c_str());
      return recorded;
    }
    // 3. Perform it.
    absl::Status performed = PerformIntent(conf_dir_, intent);
    if (!performed.ok()) {
      failed_ = absl::InternalError(absl::StrCat(
          "version ", version, " is recorded in ", DirFile(conf_dir_, kIntentFileName),
          " but could not be completed on disk (", performed.message(),
          "); restart valet-controlplane to complete it; changes are refused until then"));
      VALET_LOG(ERROR) << failed_.message();
      return failed_;
    }
  }

  entries_ = std::move(next);
  version_ = version;
  std::map<std::string, v1::AppConfig> all;
  for (const auto& [name, e] : entries_) all.emplace(name, e.app);
  std::shared_ptr<const v1::ControlPlaneMessage> message = MakeMessage(version, epoch_, all);
  StoreChange change{version, std::move(changed), std::move(deleted), SnapshotOf(message), message};
  {
    absl::MutexLock snap_lock(&snapshot_mu_);
    message_ = message;
    snapshot_ = change.snapshot;
  }
  {
    absl::MutexLock listeners_lock(&listeners_mu_);
    for (auto& [id, listener] : listeners_) listener(change);
  }
  VALET_LOG(INFO) << "version " << version << ": " << change.changed_apps.size() << " changed, "
                  << change.deleted_apps.size() << " deleted";
  return version;
}

int AppStore::Subscribe(Listener listener) {
  absl::MutexLock lock(&listeners_mu_);
  int id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void AppStore::Unsubscribe(int id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

}  // namespace valet
