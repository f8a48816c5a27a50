#include "controlplane/app_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <filesystem>
#include <mutex>
#include <set>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "controlplane/conf_dir_lock.h"
#include "controlplane/dataplane_registry.h"
#include "controlplane/rest_admin.h"
#include "dataplane/snapshot_cache.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = (fs::temp_directory_path() /
             absl::StrCat("valet-cp-test-", ::getpid(), "-", counter_++))
                .string();
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

v1::AppConfig MakeApp(const std::string& name, uint32_t port = 9050) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("backend.test");
  ep->set_port(port);
  return app;
}

std::vector<SourcedApp> Req(std::vector<v1::AppConfig> apps) {
  std::vector<SourcedApp> out;
  for (size_t i = 0; i < apps.size(); ++i) out.push_back({apps[i], absl::StrCat("apps[", i, "]")});
  return out;
}

std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  return s.ok() ? *s : std::string("<missing>");
}

class AppStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<AppStore> Open() {
    auto store = AppStore::Open(dir_.path());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string File(const std::string& name) { return (fs::path(dir_.path()) / name).string(); }
  TempDir dir_;
};

TEST_F(AppStoreTest, EmptyDirStartsAtVersionOne) {
  auto store = Open();
  EXPECT_EQ(store->version(), 1u);
  EXPECT_EQ(store->snapshot()->apps_size(), 0);
  EXPECT_EQ(ReadAll(File(kVersionFileName)), "1\n");
}

TEST_F(AppStoreTest, RestartNeverGoesBackwards) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
    EXPECT_EQ(store->version(), 2u);
  }
  auto store = Open();
  EXPECT_EQ(store->version(), 3u);
  EXPECT_EQ(store->snapshot()->apps_size(), 1);
}

TEST_F(AppStoreTest, RefusesToOpenAndListsEveryError) {
  ASSERT_TRUE(WriteFileAtomically(File("a.json"), R"({"name": "a", "endpoints": [], "bogus": 1})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(File("b.json"), "{not json").ok());
  auto store = AppStore::Open(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("a.json"), std::string::npos) << store.status();
  EXPECT_NE(store.status().message().find("b.json"), std::string::npos) << store.status();
}

TEST_F(AppStoreTest, ApplyWritesFilesAndBumpsVersion) {
  auto store = Open();
  std::vector<StoreChange> changes;
  store->Subscribe([&](const StoreChange& c) { changes.push_back(c); });
  absl::StatusOr<uint64_t> v = store->Apply(Req({MakeApp("a"), MakeApp("b")}), {});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 2u);
  EXPECT_EQ(ReadAll(File("a.json")), AppConfigToJson(MakeApp("a")));
  EXPECT_EQ(ReadAll(File(kVersionFileName)), "2\n");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].version, 2u);
  EXPECT_EQ(changes[0].changed_apps, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(changes[0].snapshot->apps_size(), 2);
  // The written files load back unchanged.
  auto loaded = LoadConfDir(dir_.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->size(), 2u);
  EXPECT_EQ(store->Get("b")->SerializeAsString(), MakeApp("b").SerializeAsString());
}

TEST_F(AppStoreTest, RefusedChangeLeavesDiskAndVersionUnchanged) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
  std::string before = ReadAll(File("a.json"));
  int published = 0;
  store->Subscribe([&](const StoreChange&) { ++published; });

  // One good app and one bad one: all or nothing.
  absl::StatusOr<uint64_t> v = store->Apply(Req({MakeApp("a", 1234), MakeApp("b", 0)}), {});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("apps[1]: endpoints[0].port"), std::string::npos)
      << v.status();
  EXPECT_EQ(store->version(), 2u);
  EXPECT_EQ(ReadAll(File("a.json")), before);
  EXPECT_FALSE(fs::exists(File("b.json")));
  EXPECT_EQ(ReadAll(File(kVersionFileName)), "2\n");
  EXPECT_EQ(published, 0);

  // Duplicate names within one request.
  EXPECT_EQ(store->Apply(Req({MakeApp("c"), MakeApp("c")}), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->version(), 2u);
}

TEST_F(AppStoreTest, StaleExpectedVersionIsFailedPrecondition) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
  ChangeOptions stale{false, 1};
  EXPECT_EQ(store->Apply(Req({MakeApp("b")}), stale).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Delete("a", stale).status().code(), absl::StatusCode::kFailedPrecondition);
  ChangeOptions current{false, 2};
  EXPECT_EQ(*store->Apply(Req({MakeApp("b")}), current), 3u);
}

TEST_F(AppStoreTest, DryRunChangesNothing) {
  auto store = Open();
  ChangeOptions dry{true, 0};
  EXPECT_EQ(*store->Apply(Req({MakeApp("a")}), dry), 1u);
  EXPECT_FALSE(fs::exists(File("a.json")));
  EXPECT_EQ(store->Apply(Req({MakeApp("a", 0)}), dry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->version(), 1u);
}

TEST_F(AppStoreTest, ReplacesAnAppInTheFileItCameFrom) {
  v1::AppConfig bar = MakeApp("bar");
  ASSERT_TRUE(WriteFileAtomically(File("foo.json"), AppConfigToJson(bar)).ok());
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("bar", 7000)}), {}).ok());
  EXPECT_FALSE(fs::exists(File("bar.json")));
  EXPECT_EQ(ReadAll(File("foo.json")), AppConfigToJson(MakeApp("bar", 7000)));
  ASSERT_TRUE(store->Delete("bar", {}).ok());
  EXPECT_FALSE(fs::exists(File("foo.json")));
}

TEST_F(AppStoreTest, DeleteUnknownIsNotFound) {
  auto store = Open();
  EXPECT_EQ(store->Delete("nope", {}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->version(), 1u);
}

TEST_F(AppStoreTest, ReloadPicksUpDiskChangesOnlyWhenValid) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
  // Nothing changed on disk: same version.
  EXPECT_EQ(*store->Reload(), 2u);

  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("b")).ok());
  ASSERT_TRUE(RemoveAppFile(dir_.path(), "a").ok());
  std::vector<StoreChange> changes;
  store->Subscribe([&](const StoreChange& c) { changes.push_back(c); });
  EXPECT_EQ(*store->Reload(), 3u);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].changed_apps, std::vector<std::string>{"b"});
  EXPECT_EQ(changes[0].deleted_apps, std::vector<std::string>{"a"});

  ASSERT_TRUE(WriteFileAtomically(File("c.json"), R"({"name": "c", "endpoints": "x"})").ok());
  absl::StatusOr<uint64_t> bad = store->Reload();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("c.json"), std::string::npos) << bad.status();
  EXPECT_EQ(store->version(), 3u);
  EXPECT_TRUE(store->Get("b").ok());
}

TEST_F(AppStoreTest, ValidateReportsWithoutChanging) {
  auto store = Open();
  EXPECT_TRUE(store->Validate(Req({MakeApp("a")})).ok());
  EXPECT_FALSE(store->Validate(Req({MakeApp("a", 0)})).ok());
  EXPECT_EQ(store->version(), 1u);
  EXPECT_FALSE(fs::exists(File("a.json")));
}

TEST_F(AppStoreTest, ConcurrentAppliesAllLandWithDistinctVersions) {
  auto store = Open();
  constexpr int kThreads = 4, kPerThread = 10;
  std::mutex mu;
  std::set<uint64_t> versions;
  std::vector<uint64_t> published;
  store->Subscribe([&](const StoreChange& c) { published.push_back(c.version); });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> v =
            store->Apply(Req({MakeApp(absl::StrCat("app-", t, "-", i))}), {});
        ASSERT_TRUE(v.ok()) << v.status();
        std::lock_guard<std::mutex> lock(mu);
        versions.insert(*v);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(versions.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->version(), 1u + kThreads * kPerThread);
  EXPECT_EQ(store->snapshot()->apps_size(), kThreads * kPerThread);
  // Listeners saw every version, in order.
  ASSERT_EQ(published.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < published.size(); ++i) EXPECT_EQ(published[i], 2 + i);
  auto loaded = LoadConfDir(dir_.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(AppStoreTest, NewAppNeverOverwritesAnotherAppsFile) {
  // two.json holds app "one" (an app keeps the file it was loaded from).
  ASSERT_TRUE(WriteFileAtomically(File("two.json"), AppConfigToJson(MakeApp("one", 1))).ok());
  ASSERT_TRUE(WriteFileAtomically(File("two-2.json"), AppConfigToJson(MakeApp("other", 2))).ok());
  {
    auto store = Open();
    ASSERT_TRUE(store->Apply(Req({MakeApp("two", 3)}), {}).ok());
    EXPECT_EQ(store->snapshot()->apps_size(), 3);
  }
  EXPECT_NE(ReadAll(File("two.json")).find("\"one\""), std::string::npos);
  EXPECT_NE(ReadAll(File("two-3.json")).find("\"two\""), std::string::npos);
  auto store = Open();  // Nothing was lost on disk.
  ASSERT_EQ(store->snapshot()->apps_size(), 3);
  EXPECT_EQ(store->Get("one")->endpoints(0).port(), 1u);
  EXPECT_EQ(store->Get("two")->endpoints(0).port(), 3u);
  EXPECT_EQ(store->Get("other")->endpoints(0).port(), 2u);
}

TEST_F(AppStoreTest, FilesKeepTheirModeAndNewOnesArePrivate) {
  ASSERT_TRUE(WriteFileAtomically(File("a.json"), AppConfigToJson(MakeApp("a"))).ok());
  ASSERT_EQ(::chmod(File("a.json").c_str(), 0640), 0);
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a", 81), MakeApp("b")}), {}).ok());
  EXPECT_EQ(fs::status(File("a.json")).permissions(), fs::perms(0640));
  EXPECT_EQ(fs::status(File("b.json")).permissions(), fs::perms(0600));
}

TEST_F(AppStoreTest, EpochIsKeptAcrossRestartsAndRenewedWithTheNumbering) {
  uint64_t epoch;
  {
    auto store = Open();
    epoch = store->epoch();
    EXPECT_NE(epoch, 0u);
    EXPECT_EQ(store->snapshot()->epoch(), epoch);
    ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
    EXPECT_EQ(store->snapshot()->epoch(), epoch);
    EXPECT_EQ(store->snapshot_message()->snapshot().version(), store->version());
  }
  EXPECT_EQ(Open()->epoch(), epoch);
  fs::remove(File(kVersionFileName));  // A new numbering: version 1 again, a new epoch.
  auto store = Open();
  EXPECT_EQ(store->version(), 1u);
  EXPECT_NE(store->epoch(), epoch);
}

// A crash after the intent was recorded: Open performs the whole change.
TEST_F(AppStoreTest, OpenRollsForwardARecordedChange) {
  ASSERT_TRUE(WriteFileAtomically(File("a.json"), AppConfigToJson(MakeApp("a", 1))).ok());
  ASSERT_TRUE(WriteFileAtomically(File("c.json"), AppConfigToJson(MakeApp("c", 1))).ok());
  ASSERT_TRUE(WriteFileAtomically(File(kVersionFileName), "3\n").ok());
  ASSERT_TRUE(WriteFileAtomically(File(".valet-txn.4.0"), AppConfigToJson(MakeApp("a", 2))).ok());
  ASSERT_TRUE(WriteFileAtomically(File(".valet-txn.4.1"), AppConfigToJson(MakeApp("b", 2))).ok());
  // The temp file of an atomic write cut short by a crash.
  ASSERT_TRUE(WriteFileAtomically(File(".c.json.tmp.123.0"), "{\"half\":").ok());
  ASSERT_TRUE(WriteFileAtomically(File(kIntentFileName),
                                  "valet-intent 1\nversion 4\nrename .valet-txn.4.0 a.json\n"
                                  "rename .valet-txn.4.1 b.json\nremove c.json\nend\n")
                  .ok());
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version(), 5u);
  ASSERT_EQ(store->snapshot()->apps_size(), 2);
  EXPECT_EQ(store->Get("a")->endpoints(0).port(), 2u);
  EXPECT_EQ(store->Get("b")->endpoints(0).port(), 2u);
  EXPECT_FALSE(store->Get("c").ok());
  for (const char* gone : {kIntentFileName, ".valet-txn.4.0", ".valet-txn.4.1", "c.json"}) {
    EXPECT_FALSE(fs::exists(File(gone))) << gone;
  }
}

// A crash while the intent was being written: the change never happened.
TEST_F(AppStoreTest, OpenDiscardsAnIncompleteIntent) {
  ASSERT_TRUE(WriteFileAtomically(File("a.json"), AppConfigToJson(MakeApp("a", 1))).ok());
  ASSERT_TRUE(WriteFileAtomically(File("c.json"), AppConfigToJson(MakeApp("c", 1))).ok());
  ASSERT_TRUE(WriteFileAtomically(File(kVersionFileName), "3\n").ok());
  ASSERT_TRUE(WriteFileAtomically(File(".valet-txn.4.0"), AppConfigToJson(MakeApp("a", 2))).ok());
  ASSERT_TRUE(WriteFileAtomically(File(".valet-txn.4.1"), AppConfigToJson(MakeApp("b", 2))).ok());
  // The temp file of an atomic write cut short by a crash.
  ASSERT_TRUE(WriteFileAtomically(File(".c.json.tmp.123.0"), "{\"half\":").ok());
  ASSERT_TRUE(WriteFileAtomically(File(kIntentFileName),
                                  "valet-intent 1\nversion 4\nrename .valet-txn.4.0 a.json\nrena")
                  .ok());
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version(), 4u);
  ASSERT_EQ(store->snapshot()->apps_size(), 2);
  EXPECT_EQ(store->Get("a")->endpoints(0).port(), 1u);
  EXPECT_TRUE(store->Get("c").ok());
  for (const char* gone :
       {kIntentFileName, ".valet-txn.4.0", ".valet-txn.4.1", ".c.json.tmp.123.0"}) {
    EXPECT_FALSE(fs::exists(File(gone))) << gone;
  }
}

TEST_F(AppStoreTest, AChangeLeavesNoIntentOrTempFiles) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a"), MakeApp("b")}), {}).ok());
  ASSERT_TRUE(store->Delete("a", {}).ok());
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "b.json" || name == kVersionFileName || name == kEpochFileName) << name;
  }
}

TEST(ConfDirLockTest, OneHolderPerDir) {
  TempDir dir;
  auto first = ConfDirLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = ConfDirLock::Acquire(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(),
            absl::StrCat("conf dir ", dir.path(), " is in use by another valet-controlplane (pid ",
                         ::getpid(), ")"));
  first->reset();
  EXPECT_TRUE(ConfDirLock::Acquire(dir.path()).ok());
}

TEST(ConfDirLockDeathTest, UnwritableDirIsRefusedWithAClearReason) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0555), 0);
  EXPECT_EXIT(
      {
        // Root writes anywhere: drop to an unprivileged user first (no-op otherwise).
        if (::geteuid() == 0 && ::setgid(65534) == 0) (void)!::setuid(65534);
        auto lock = ConfDirLock::Acquire(dir.path());
        std::fprintf(stderr, "%s\n", std::string(lock.status().message()).c_str());
        std::exit(lock.ok() ? 1 : 0);
      },
      ::testing::ExitedWithCode(0),
      "conf dir .* must be writable by valet-controlplane: Permission denied");
  ::chmod(dir.path().c_str(), 0755);
}

TEST(RestAdminTest, ErrorCodesMapToHttpStatuses) {
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInternal), 500);
}

TEST(DataplaneRegistryTest, CancelledAndShutDownWaitsLeave) {
  DataplaneRegistry registry;
  registry.Connected("dp", "a", "p1", 1);
  int calls = 0;
  uint64_t id = registry.WaitForVersion(2, absl::InfiniteFuture(),
                                        [&](v1::WaitForVersionResponse) { ++calls; });
  ASSERT_NE(id, 0u);
  EXPECT_EQ(registry.pending_waits(), 1u);
  EXPECT_TRUE(registry.CancelWait(id));
  EXPECT_FALSE(registry.CancelWait(id));
  EXPECT_EQ(registry.pending_waits(), 0u);
  EXPECT_EQ(calls, 0);

  std::optional<v1::WaitForVersionResponse> answer;
  registry.WaitForVersion(2, absl::InfiniteFuture(),
                          [&](v1::WaitForVersionResponse r) { answer = std::move(r); });
  EXPECT_FALSE(answer.has_value());
  registry.Shutdown();
  ASSERT_TRUE(answer.has_value());
  EXPECT_FALSE(answer->complete());
  EXPECT_EQ(answer->pending_size(), 1);
  // After Shutdown a wait is answered at once.
  answer.reset();
  EXPECT_EQ(registry.WaitForVersion(2, absl::InfiniteFuture(),
                                    [&](v1::WaitForVersionResponse r) { answer = std::move(r); }),
            0u);
  EXPECT_TRUE(answer.has_value());
}

TEST(DataplaneRegistryTest, ReattachWithANewerVersionClearsTheNack) {
  DataplaneRegistry registry;
  uint64_t t = registry.Connected("dp", "a", "p1", 1);
  registry.Nacked(t, 2, "bad");
  registry.Disconnected(t);
  // Still serving 1: the NACK of 2 stands.
  t = registry.Connected("dp", "a", "p2", 1);
  ASSERT_EQ(registry.List().size(), 1u);
  EXPECT_EQ(registry.List()[0].last_nack_version(), 2u);
  registry.Disconnected(t);
  // Serving 3 now: the NACK is history.
  registry.Connected("dp", "a", "p3", 3);
  ASSERT_EQ(registry.List().size(), 1u);
  EXPECT_EQ(registry.List()[0].last_nack_version(), 0u);
  EXPECT_EQ(registry.List()[0].last_nack_reason(), "");
}

TEST(DataplaneRegistryTest, WaitCompletesOnAckOrNackAndTimesOut) {
  DataplaneRegistry registry;
  uint64_t a = registry.Connected("dp-a", "127.0.0.1:8000", "peer-a", 1);
  uint64_t b = registry.Connected("dp-b", "127.0.0.1:8001", "peer-b", 1);

  std::optional<v1::WaitForVersionResponse> got;
  registry.WaitForVersion(2, absl::Now() + absl::Minutes(1),
                          [&](v1::WaitForVersionResponse r) { got = r; });
  EXPECT_FALSE(got.has_value());
  registry.Acked(a, 2);
  EXPECT_FALSE(got.has_value());
  registry.Nacked(b, 2, "bad route");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->complete());
  ASSERT_EQ(got->acked_size(), 1);
  EXPECT_EQ(got->acked(0).id(), "dp-a");
  ASSERT_EQ(got->nacked_size(), 1);
  EXPECT_EQ(got->nacked(0).last_nack_reason(), "bad route");

  // A timeout answers with the silent ones pending.
  absl::Notification timed_out;
  std::optional<v1::WaitForVersionResponse> late;
  registry.WaitForVersion(3, absl::Now() + absl::Milliseconds(50),
                          [&](v1::WaitForVersionResponse r) {
                            late = r;
                            timed_out.Notify();
                          });
  ASSERT_TRUE(timed_out.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(late->complete());
  EXPECT_EQ(late->pending_size(), 2);

  // A disconnected data plane no longer counts.
  registry.Disconnected(b);
  std::optional<v1::WaitForVersionResponse> third;
  registry.WaitForVersion(2, absl::Now() + absl::Minutes(1),
                          [&](v1::WaitForVersionResponse r) { third = r; });
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->acked_size(), 1);
  std::vector<v1::DataPlaneStatus> list = registry.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_FALSE(list[1].connected());
}

TEST(DataplaneRegistryTest, ReconnectTakesOverTheEntry) {
  DataplaneRegistry registry;
  uint64_t old_token = registry.Connected("dp", "a", "p1", 1);
  uint64_t new_token = registry.Connected("dp", "a", "p2", 1);
  // Two live streams with one id: both are visible (and both counted by waits).
  ASSERT_EQ(registry.List().size(), 2u);
  EXPECT_TRUE(registry.List()[0].connected());
  EXPECT_TRUE(registry.List()[1].connected());
  registry.Disconnected(old_token);  // The old stream's late end.
  std::vector<v1::DataPlaneStatus> list = registry.List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0].connected());
  EXPECT_EQ(list[0].peer(), "p2");
  registry.Acked(new_token, 5);
  EXPECT_EQ(registry.List()[0].version(), 5u);
}

TEST(SnapshotCacheTest, SavesAtomicallyAndLoads) {
  TempDir dir;
  std::string cache = (fs::path(dir.path()) / "cache").string();
  EXPECT_EQ(LoadSnapshotCache(cache).status().code(), absl::StatusCode::kNotFound);
  v1::ConfigSnapshot snap;
  snap.set_version(7);
  *snap.add_apps() = MakeApp("a");
  ASSERT_TRUE(SaveSnapshotCache(cache, snap).ok());
  auto loaded = LoadSnapshotCache(cache);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), snap.SerializeAsString());
  // No temp file left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(cache)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1);
  ASSERT_TRUE(WriteFileAtomically((fs::path(cache) / kSnapshotCacheFileName).string(), "\xff\xff")
                  .ok());
  EXPECT_EQ(LoadSnapshotCache(cache).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace valet
