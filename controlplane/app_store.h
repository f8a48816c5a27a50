// The control plane's app configs: the conf dir is the source of truth, this is its in-memory view.
//
// AppStore loads every app of the conf dir at start (Open refuses with every error listed), and
// then owns every change: Apply (create or replace several apps, all or none), Delete and Reload
// (re-read the dir). Each change validates the whole resulting set first; a refused change returns
// INVALID_ARGUMENT (one "SOURCE: json.path: reason" per line) and changes nothing, neither disk nor
// version. So does a change whose snapshot would be larger than data planes accept
// (OUT_OF_RANGE, naming both sizes). An accepted change is written to disk atomically
// (change_intent.h) before it is acknowledged and carries the next version (current + 1). An app
// keeps the file it was loaded from: an app loaded from foo.json whose name is "bar" is rewritten
// in foo.json; a new app goes to NAME.json.
//
// Version and epoch: kept in the conf dir (version_state.h). Open recovers an interrupted change,
// then keeps the stored version if the apps are the same as when it was stored, and takes the next
// one otherwise; data planes serving (epoch, version) then need nothing after a restart. The new
// version is persisted before the change is published, so a restart never reuses a version served
// with other apps. A change past version 2^64-1 is refused (FAILED_PRECONDITION).
//
// Secrets: an app with an auth key is written without group and other permissions (0644 becomes
// 0600), with a warning naming the file when that takes permissions away; Open and Reload warn
// about every such file that group or others can access.
//
// Threading: every method is thread-safe. Changes (Apply, Delete, Reload) are serialised by the
// change lock, held across their disk writes (so none is lost and versions follow the order of
// the writes); only changes take it. The store lock guards the current state (snapshot, apps and
// their files) and is held only to read or swap it: never across file I/O or a listener call, so
// readers (snapshot(), Get, Validate, the attach streams) never wait for a disk. Listeners are
// called once per new version, in version order, after the new state is installed and the store
// lock released (under the change lock): they must not block and must not call
// Apply/Delete/Reload/Subscribe (snapshot() and version() are fine). Subscribe/Unsubscribe never
// wait for a disk write. The gRPC control API runs changes on a thread of their own
// (change_runner.h), never on a gRPC callback thread.
#ifndef VALET_CONTROLPLANE_APP_STORE_H_
#define VALET_CONTROLPLANE_APP_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/app_config_validation.h"
#include "common/message_limits.h"
#include "controlplane/change_intent.h"
#include "controlplane/version_state.h"
#include "valet/v1/attach.pb.h"
#include "valet/v1/config.pb.h"

namespace valet {

// One accepted change, as published to listeners.
struct StoreChange {
  uint64_t version = 0;
  std::vector<std::string> changed_apps;               // Created or replaced, sorted.
  std::vector<std::string> deleted_apps;               // Sorted.
  std::shared_ptr<const v1::ConfigSnapshot> snapshot;  // The complete new set.
  // The same snapshot as the attach stream sends it, built once per version and shared by every
  // stream (`snapshot` points into it).
  std::shared_ptr<const v1::ControlPlaneMessage> message;
};

struct ChangeOptions {
  bool dry_run = false;           // Validate (and check expected_version) only.
  uint64_t expected_version = 0;  // Non-zero: FAILED_PRECONDITION unless it is the current version.
};

struct AppStoreOptions {
  // The largest serialized snapshot (ConfigSnapshot) a change may make. The data planes' limit;
  // smaller only in tests.
  size_t max_snapshot_bytes = kMaxSnapshotBytes;
  // Test only: a fault-injection seam of the writer. Called by each change that writes (after
  // validation, holding the change lock but not the store lock) before its first write to the
  // conf dir; a slow or blocked hook is a slow disk.
  std::function<void()> before_write;
};

class AppStore {
 public:
  using Listener = std::function<void(const StoreChange&)>;

  // Loads `conf_dir`. InvalidArgument listing every error if any file is invalid;
  // OUT_OF_RANGE if the apps make too large a snapshot; the errors of StartNumbering.
  static absl::StatusOr<std::unique_ptr<AppStore>> Open(const std::string& conf_dir,
                                                        const AppStoreOptions& options = {});

  AppStore(const AppStore&) = delete;
  AppStore& operator=(const AppStore&) = delete;

  const std::string& conf_dir() const { return conf_dir_; }

  // The current version and complete set (apps sorted by name). Never null.
  std::shared_ptr<const v1::ConfigSnapshot> snapshot() const;
  uint64_t version() const;                  // == snapshot()->version()
  uint64_t epoch() const { return epoch_; }  // == snapshot()->epoch(); fixed for the lifetime.
  // The current snapshot wrapped for the attach stream (snapshot() points into it). Never null.
  std::shared_ptr<const v1::ControlPlaneMessage> snapshot_message() const;

  // NOT_FOUND if no app has this name.
  absl::StatusOr<v1::AppConfig> Get(const std::string& name) const;

  // Creates or replaces each app (matched by name). A redacted secret (as GetApp shows it) keeps
  // the secret stored for that app or consumer (common/secret_redaction.h). Returns the new version
  // (the current one on dry_run). `source` of each app names it in errors ("apps[0]", "request").
  absl::StatusOr<uint64_t> Apply(const std::vector<SourcedApp>& apps, const ChangeOptions& options);

  // Deletes one app and its file. NOT_FOUND if unknown.
  absl::StatusOr<uint64_t> Delete(const std::string& name, const ChangeOptions& options);

  // Re-reads the conf dir. A new version only if the set differs from the current one. A reload
  // that removes every app is accepted, with a warning naming the conf dir.
  absl::StatusOr<uint64_t> Reload();

  // The errors Apply(apps) would report, without applying (one string per line of the status).
  absl::Status Validate(const std::vector<SourcedApp>& apps) const;

  // Registers a listener for every future change. Returns an id for Unsubscribe.
  int Subscribe(Listener listener);
  void Unsubscribe(int id);

 private:
  struct Entry {
    v1::AppConfig app;
    std::string path;  // The file it lives in.
  };
  using Entries = std::map<std::string, Entry>;  // By app name.

  AppStore(std::string conf_dir, const AppStoreOptions& options, Entries entries,
           std::shared_ptr<const v1::ControlPlaneMessage> message);

  // The apps and their files as of the current version (for Validate).
  std::shared_ptr<const Entries> entries() const;

  // The snapshot of `entries` wrapped for the attach stream.
  static std::shared_ptr<v1::ControlPlaneMessage> MakeMessage(uint64_t version, uint64_t epoch,
                                                              const Entries& entries);
  // OUT_OF_RANGE naming both sizes if `snapshot` is larger than data planes accept.
  absl::Status CheckSize(const v1::ConfigSnapshot& snapshot) const;

  absl::Status CheckExpected(const ChangeOptions& options) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // `apps` with each redacted secret replaced by the secret of `entries` it stands for
  // (common/secret_redaction.h): what a get, edit, apply sends back keeps the stored keys.
  static std::vector<SourcedApp> WithStoredSecrets(const Entries& entries,
                                                   const std::vector<SourcedApp>& apps);
  // The errors of the set `entries` with `apps` created or replaced.
  static absl::Status ValidateWith(const Entries& entries, const std::vector<SourcedApp>& apps);
  // Checks the size of the resulting snapshot, persists version_ + 1 and (if write_files) writes
  // the changed apps' files and removes the deleted ones, all or nothing through the intent file;
  // on success installs `next` as the current set and publishes the change.
  absl::StatusOr<uint64_t> CommitLocked(Entries next, std::vector<std::string> changed,
                                        std::vector<std::string> deleted, bool write_files)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);

  // A file for a new app: NAME.json unless used (by `used` or on disk), then NAME-2.json, ...
  std::string FreePathFor(const std::string& name, const std::set<std::string>& used) const;

  const std::string conf_dir_;
  const AppStoreOptions options_;
  const uint64_t epoch_;

  // The change lock: serialises changes, held across their disk writes and listener calls.
  absl::Mutex change_mu_;
  // The state the changes work from; changed only by a change (under change_mu_).
  Entries entries_ ABSL_GUARDED_BY(change_mu_);
  uint64_t version_ ABSL_GUARDED_BY(change_mu_);
  // Set when a recorded change could not be performed: every later change is refused with it.
  absl::Status failed_ ABSL_GUARDED_BY(change_mu_);

  // Held while listeners run (after mu_ is released), so Unsubscribe returns only once no call is
  // running.
  mutable absl::Mutex listeners_mu_ ABSL_ACQUIRED_AFTER(change_mu_);
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_id_ ABSL_GUARDED_BY(listeners_mu_) = 1;

  // The store lock: the current state as readers see it, swapped whole by a change once its
  // files are written. Held only to copy or swap these pointers.
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(change_mu_);
  std::shared_ptr<const v1::ControlPlaneMessage> message_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const v1::ConfigSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Entries> published_entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_APP_STORE_H_
