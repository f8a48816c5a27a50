#include "controlplane/app_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "controlplane/dataplane_registry.h"
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
