#include "controlplane/app_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
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

absl::Status RemoveFileAndSync(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("remove ", path, ": ", std::strerror(errno)));
  }
  fs::path parent = fs::path(path).parent_path();
  std::string dir = parent.empty() ? std::string(".") : parent.string();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", dir, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", dir, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

std::shared_ptr<const v1::ConfigSnapshot> MakeSnapshot(
    uint64_t version, const std::map<std::string, v1::AppConfig>& apps) {
  auto snap = std::make_shared<v1::ConfigSnapshot>();
  snap->set_version(version);
  for (const auto& [name, app] : apps) *snap->add_apps() = app;
  return snap;
}

bool SameApp(const v1::AppConfig& a, const v1::AppConfig& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppStore>> AppStore::Open(const std::string& conf_dir) {
  ASSIGN_OR_RETURN(std::vector<SourcedApp> apps, LoadConfDir(conf_dir));
  ASSIGN_OR_RETURN(uint64_t stored, ReadStoredVersion(conf_dir));
  uint64_t version = stored + 1;
  RETURN_IF_ERROR(WriteStoredVersion(conf_dir, version));
  Entries entries;
  for (SourcedApp& s : apps) {
    std::string name = s.app.name();
    entries.emplace(std::move(name), Entry{std::move(s.app), std::move(s.source)});
  }
  VALET_LOG(INFO) << "loaded " << entries.size() << " apps from " << conf_dir << ", version "
                  << version;
  return std::unique_ptr<AppStore>(new AppStore(conf_dir, std::move(entries), version));
}

AppStore::AppStore(std::string conf_dir, Entries entries, uint64_t version)
    : conf_dir_(std::move(conf_dir)), entries_(std::move(entries)), version_(version) {
  std::map<std::string, v1::AppConfig> apps;
  for (const auto& [name, e] : entries_) apps.emplace(name, e.app);
  snapshot_ = MakeSnapshot(version_, apps);
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
  std::vector<std::string> changed;
  for (const SourcedApp& s : apps) {
    auto it = next.find(s.app.name());
    if (it == next.end()) {
      next.emplace(s.app.name(),
                   Entry{s.app, (fs::path(conf_dir_) / (s.app.name() + ".json")).string()});
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
  uint64_t version = version_ + 1;
  // The version goes to disk first: after a crash at any later point, Open starts above it.
  RETURN_IF_ERROR(WriteStoredVersion(conf_dir_, version));

  // Write changed files, then remove deleted ones. On failure, put back what was written.
  std::vector<std::string> written;
  absl::Status status = absl::OkStatus();
  for (const std::string& name : write_files ? changed : std::vector<std::string>{}) {
    const Entry& e = next.at(name);
    status = WriteFileAtomically(e.path, AppConfigToJson(e.app));
    if (!status.ok()) break;
    written.push_back(name);
  }
  if (status.ok() && write_files) {
    for (const std::string& name : deleted) {
      status = RemoveFileAndSync(entries_.at(name).path);
      if (!status.ok()) break;
    }
  }
  if (!status.ok()) {
    for (const std::string& name : written) {
      auto old = entries_.find(name);
      absl::Status undo = old != entries_.end()
                              ? WriteFileAtomically(old->second.path, AppConfigToJson(old->second.app))
                              : RemoveFileAndSync(next.at(name).path);
      if (!undo.ok()) {
        VALET_LOG(ERROR) << "cannot undo a failed change: " << undo.message();
      }
    }
    return status;
  }

  entries_ = std::move(next);
  version_ = version;
  std::map<std::string, v1::AppConfig> all;
  for (const auto& [name, e] : entries_) all.emplace(name, e.app);
  StoreChange change{version, std::move(changed), std::move(deleted), MakeSnapshot(version, all)};
  {
    absl::MutexLock snap_lock(&snapshot_mu_);
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
