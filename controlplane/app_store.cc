#include "controlplane/app_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "common/logging.h"
#include "common/secret_redaction.h"
#include "common/status_macros.h"
#include "google/protobuf/io/coded_stream.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

std::string DirFile(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

std::shared_ptr<const v1::ConfigSnapshot> SnapshotOf(
    const std::shared_ptr<const v1::ControlPlaneMessage>& message) {
  return std::shared_ptr<const v1::ConfigSnapshot>(message, &message->snapshot());
}

bool SameApp(const v1::AppConfig& a, const v1::AppConfig& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

// The serialized size of `snapshot` with the widest version and epoch it can carry: what is
// checked against the limit, so that a set accepted under one version is accepted under any (a
// restart then never refuses what a change accepted).
size_t WidestSnapshotBytes(const v1::ConfigSnapshot& snapshot) {
  using google::protobuf::io::CodedOutputStream;
  constexpr size_t kWidestHeader = 2 * (1 + 10);  // version and epoch: tag + 10-byte varint each.
  size_t size = kWidestHeader;
  for (const v1::AppConfig& app : snapshot.apps()) {
    size_t app_size = app.ByteSizeLong();
    size += 1 + CodedOutputStream::VarintSize64(app_size) + app_size;  // Tag, length, bytes.
  }
  return size;
}

std::string Apps(size_t n) { return absl::StrCat(n, n == 1 ? " app" : " apps"); }

// An app whose file must not be readable by others: it holds an auth key or a consumer's key.
bool HoldsSecret(const v1::AppConfig& app) {
  if (!app.auth_key().empty()) return true;
  for (const v1::Consumer& c : app.consumers()) {
    if (!c.key().empty()) return true;
  }
  return false;
}

// The permission bits of `path` if it is a regular file that group or others may access.
std::optional<mode_t> OpenToOthers(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) {
    return std::nullopt;
  }
  return st.st_mode & 07777;
}

std::string OctalMode(mode_t mode) {
  std::string out = "0";
  for (int shift = 6; shift >= 0; shift -= 3) out.push_back('0' + ((mode >> shift) & 7));
  return out;
}

// A warning per file holding a secret that group or others can access: at start and on reload,
// when the operator (not Valet) may have set its mode.
template <typename EntryMap>
void WarnAboutOpenSecrets(const EntryMap& entries) {
  for (const auto& [name, e] : entries) {
    if (!HoldsSecret(e.app)) continue;
    if (std::optional<mode_t> mode = OpenToOthers(e.path)) {
      VALET_LOG(WARNING) << e.path << " holds the auth key of app " << name
                         << " and group or others can access it (mode " << OctalMode(*mode)
                         << "); run chmod 600 on it (valet-controlplane writes it without group "
                            "and other permissions at its next change)";
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<AppStore>> AppStore::Open(const std::string& conf_dir,
                                                         const AppStoreOptions& options) {
  std::error_code ec;
  if (fs::is_directory(conf_dir, ec)) RETURN_IF_ERROR(RecoverIntent(conf_dir));
  ASSIGN_OR_RETURN(std::vector<SourcedApp> apps, LoadConfDir(conf_dir));
  Entries entries;
  for (SourcedApp& s : apps) {
    std::string name = s.app.name();
    entries.emplace(std::move(name), Entry{std::move(s.app), std::move(s.source)});
  }
  WarnAboutOpenSecrets(entries);

  // Version and epoch are set once known; the size is checked before anything is written.
  std::shared_ptr<v1::ControlPlaneMessage> message = MakeMessage(0, 0, entries);
  if (size_t size = WidestSnapshotBytes(message->snapshot()); size > options.max_snapshot_bytes) {
    return absl::OutOfRangeError(absl::StrCat(
        "conf dir ", conf_dir, ": a snapshot of its ", Apps(entries.size()), " would be ", size,
        " bytes, more than the ", options.max_snapshot_bytes, " bytes a data plane accepts"));
  }
  ASSIGN_OR_RETURN(Numbering numbering, StartNumbering(conf_dir, AppsDigest(message->snapshot())));
  message->mutable_snapshot()->set_version(numbering.version);
  message->mutable_snapshot()->set_epoch(numbering.epoch);
  VALET_LOG(INFO) << "loaded " << entries.size() << " apps from " << conf_dir << ", version "
                  << numbering.version << (numbering.kept ? " (unchanged since it was stored)" : "")
                  << ", epoch " << numbering.epoch;
  return std::unique_ptr<AppStore>(
      new AppStore(conf_dir, options, std::move(entries), std::move(message)));
}

AppStore::AppStore(std::string conf_dir, const AppStoreOptions& options, Entries entries,
                   std::shared_ptr<const v1::ControlPlaneMessage> message)
    : conf_dir_(std::move(conf_dir)),
      options_(options),
      epoch_(message->snapshot().epoch()),
      entries_(std::move(entries)),
      version_(message->snapshot().version()),
      message_(std::move(message)),
      snapshot_(SnapshotOf(message_)),
      published_entries_(std::make_shared<const Entries>(entries_)) {}

std::shared_ptr<const AppStore::Entries> AppStore::entries() const {
  absl::MutexLock lock(&mu_);
  return published_entries_;
}

std::shared_ptr<v1::ControlPlaneMessage> AppStore::MakeMessage(uint64_t version, uint64_t epoch,
                                                               const Entries& entries) {
  auto message = std::make_shared<v1::ControlPlaneMessage>();
  v1::ConfigSnapshot* snap = message->mutable_snapshot();
  snap->set_version(version);
  snap->set_epoch(epoch);
  snap->mutable_apps()->Reserve(static_cast<int>(entries.size()));
  for (const auto& [name, e] : entries) *snap->add_apps() = e.app;
  return message;
}

absl::Status AppStore::CheckSize(const v1::ConfigSnapshot& snapshot) const {
  size_t size = WidestSnapshotBytes(snapshot);
  if (size <= options_.max_snapshot_bytes) return absl::OkStatus();
  return absl::OutOfRangeError(absl::StrCat("refused: a snapshot of the resulting ",
                                            Apps(snapshot.apps_size()), " would be ", size,
                                            " bytes, more than the ", options_.max_snapshot_bytes,
                                            " bytes a data plane accepts; nothing changed"));
}

std::shared_ptr<const v1::ControlPlaneMessage> AppStore::snapshot_message() const {
  absl::MutexLock lock(&mu_);
  return message_;
}

std::string AppStore::FreePathFor(const std::string& name,
                                  const std::set<std::string>& used) const {
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
  absl::MutexLock lock(&mu_);
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
    return absl::FailedPreconditionError(
        absl::StrCat("expected version ", options.expected_version, ", current is ", version_));
  }
  return absl::OkStatus();
}

std::vector<SourcedApp> AppStore::WithStoredSecrets(const Entries& entries,
                                                    const std::vector<SourcedApp>& apps) {
  std::vector<SourcedApp> out = apps;
  for (SourcedApp& s : out) {
    auto it = entries.find(s.app.name());
    RestoreRedactedSecrets(it == entries.end() ? nullptr : &it->second.app, s.app);
  }
  return out;
}

absl::Status AppStore::ValidateWith(const Entries& entries, const std::vector<SourcedApp>& apps) {
  if (apps.empty()) return absl::InvalidArgumentError("no apps given");
  std::vector<SourcedApp> set;
  set.reserve(entries.size() + apps.size());
  for (const auto& [name, e] : entries) {
    bool replaced = false;
    for (const SourcedApp& s : apps) replaced = replaced || s.app.name() == name;
    if (!replaced) set.push_back({e.app, e.path});
  }
  for (const SourcedApp& s : apps) set.push_back(s);
  return ValidateAppSet(set);
}

absl::Status AppStore::Validate(const std::vector<SourcedApp>& apps) const {
  // The published state: a change in progress (maybe stuck in a slow write) is not waited for.
  std::shared_ptr<const Entries> current = entries();
  return ValidateWith(*current, WithStoredSecrets(*current, apps));
}

absl::StatusOr<uint64_t> AppStore::Apply(const std::vector<SourcedApp>& applied,
                                         const ChangeOptions& options) {
  absl::MutexLock lock(&change_mu_);
  RETURN_IF_ERROR(CheckExpected(options));
  const std::vector<SourcedApp> apps = WithStoredSecrets(entries_, applied);
  RETURN_IF_ERROR(ValidateWith(entries_, apps));

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
      if (!options.dry_run && fs::path(path).filename() != s.app.name() + ".json") {
        VALET_LOG(INFO) << "app " << s.app.name() << " goes to " << path << ": " << s.app.name()
                        << ".json holds another app";
      }
      used.insert(path);
      next.emplace(s.app.name(), Entry{s.app, std::move(path)});
    } else {
      it->second.app = s.app;
    }
    changed.push_back(s.app.name());
  }
  if (options.dry_run) {
    RETURN_IF_ERROR(CheckSize(MakeMessage(version_ + 1, epoch_, next)->snapshot()));
    return version_;
  }
  std::sort(changed.begin(), changed.end());
  return CommitLocked(std::move(next), std::move(changed), {}, /*write_files=*/true);
}

absl::StatusOr<uint64_t> AppStore::Delete(const std::string& name, const ChangeOptions& options) {
  absl::MutexLock lock(&change_mu_);
  RETURN_IF_ERROR(CheckExpected(options));
  if (entries_.find(name) == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no app named \"", name, "\""));
  }
  Entries next = entries_;
  next.erase(name);
  // A fan-out route of another app may name this one: the apps left must still hold together.
  std::vector<SourcedApp> rest;
  rest.reserve(next.size());
  for (const auto& [other, e] : next) rest.push_back({e.app, e.path});
  RETURN_IF_ERROR(ValidateAppSet(rest));
  if (options.dry_run) return version_;
  return CommitLocked(std::move(next), {}, {name}, /*write_files=*/true);
}

absl::StatusOr<uint64_t> AppStore::Reload() {
  absl::MutexLock lock(&change_mu_);
  ASSIGN_OR_RETURN(std::vector<SourcedApp> apps, LoadConfDir(conf_dir_));
  Entries next;
  for (SourcedApp& s : apps) {
    std::string name = s.app.name();
    next.emplace(std::move(name), Entry{std::move(s.app), std::move(s.source)});
  }
  WarnAboutOpenSecrets(next);
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
    auto published = std::make_shared<const Entries>(entries_);
    absl::MutexLock state_lock(&mu_);
    published_entries_ = std::move(published);
    return version_;
  }
  const bool removes_every_app = next.empty();
  // The files are already on disk.
  ASSIGN_OR_RETURN(uint64_t version, CommitLocked(std::move(next), std::move(changed), deleted,
                                                  /*write_files=*/false));
  if (removes_every_app) {
    // Accepted (an empty dir is a valid set), but rarely meant: say so where operators look.
    VALET_LOG(WARNING) << "reload of " << conf_dir_ << " removed every app (" << deleted.size()
                       << "): version " << version << " has none, so data planes answer 404 to "
                       << "every request until apps are added again";
  }
  return version;
}

absl::StatusOr<uint64_t> AppStore::CommitLocked(Entries next, std::vector<std::string> changed,
                                                std::vector<std::string> deleted,
                                                bool write_files) {
  RETURN_IF_ERROR(failed_);
  if (version_ == std::numeric_limits<uint64_t>::max()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refused: version ", version_, " is the last one (", DirFile(conf_dir_, kVersionFileName),
        "); stop valet-controlplane and remove ", DirFile(conf_dir_, kVersionFileName), " and ",
        DirFile(conf_dir_, kEpochFileName), " to start a new numbering"));
  }
  const uint64_t version = version_ + 1;
  std::shared_ptr<const v1::ControlPlaneMessage> message = MakeMessage(version, epoch_, next);
  RETURN_IF_ERROR(CheckSize(message->snapshot()));

  // Files that held a key and were open to others before this change closed them.
  std::vector<std::pair<std::string, mode_t>> closed;
  if (options_.before_write) options_.before_write();  // Test only: a slow disk.
  if (!write_files) {
    // Reload: the files are on disk already; only the version moves. The digest record follows
    // the version: without it a restart merely takes one more version.
    RETURN_IF_ERROR(WriteStoredVersion(conf_dir_, version));
    if (absl::Status s = WriteAppsDigest(conf_dir_, version, AppsDigest(message->snapshot()));
        !s.ok()) {
      VALET_LOG(WARNING) << s.message();
    }
  } else {
    // A hand-made file name the intent cannot record would make the change unrecoverable.
    auto recordable = [this](const std::string& name, const std::string& path) {
      if (IsRecordableName(fs::path(path).filename().string())) return absl::OkStatus();
      return absl::FailedPreconditionError(
          absl::StrCat("refused: the file of app \"", name, "\" in ", conf_dir_,
                       " has a line break in its name; rename it and reload"));
    };
    ChangeIntent intent;
    intent.version = version;
    intent.apps_digest = AppsDigest(message->snapshot());
    for (const std::string& name : changed) RETURN_IF_ERROR(recordable(name, next.at(name).path));
    for (const std::string& name : deleted) {
      const std::string& path = entries_.at(name).path;
      RETURN_IF_ERROR(recordable(name, path));
      intent.removes.push_back(fs::path(path).filename().string());
    }
    // 1. Every new file as a synced temp file. Nothing is changed yet: on failure remove them.
    std::vector<std::string> temps;
    auto discard = [&temps] {
      for (const std::string& t : temps) ::unlink(t.c_str());
    };
    for (const std::string& name : changed) {
      const Entry& e = next.at(name);
      std::string tmp_name = absl::StrCat(kTxnFilePrefix, version, ".", temps.size());
      std::string tmp = DirFile(conf_dir_, tmp_name);
      std::string json = AppConfigToJson(e.app);
      FileAccess access = FileAccess::kKeepMode;
      if (HoldsSecret(e.app)) {
        access = FileAccess::kOwnerOnly;
        if (std::optional<mode_t> mode = OpenToOthers(e.path)) closed.emplace_back(e.path, *mode);
      }
      absl::Status written = WriteSyncedFile(tmp, json, e.path, access);
      if (!written.ok()) {
        discard();
        return written;
      }
      temps.push_back(tmp);
      intent.renames.push_back(
          RenameOf(std::move(tmp_name), fs::path(e.path).filename().string(), json));
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
  for (const auto& [path, mode] : closed) {
    VALET_LOG(WARNING) << path << " holds an auth key and group or others could access it (mode "
                       << OctalMode(mode) << "); it is now written "
                       << OctalMode(mode & ~static_cast<mode_t>(077));
  }

  entries_ = std::move(next);
  version_ = version;
  StoreChange change{version, std::move(changed), std::move(deleted), SnapshotOf(message), message};
  auto published = std::make_shared<const Entries>(entries_);
  {
    // Readers see the new version from here; the old state dies outside the lock.
    absl::MutexLock state_lock(&mu_);
    message_.swap(message);
    snapshot_ = change.snapshot;
    published_entries_.swap(published);
  }
  {
    // After the store lock, under the change lock: in version order, one version at a time.
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
