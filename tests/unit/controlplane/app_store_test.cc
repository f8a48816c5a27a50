#include "controlplane/app_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "common/secret_redaction.h"
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
    path_ =
        (fs::temp_directory_path() / absl::StrCat("valet-cp-test-", ::getpid(), "-", counter_++))
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

// Restarts with the apps unchanged keep the version, so data planes serving it need nothing.
TEST_F(AppStoreTest, RestartWithUnchangedAppsKeepsTheVersion) {
  uint64_t epoch;
  {
    auto store = Open();
    ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
    EXPECT_EQ(store->version(), 2u);
    epoch = store->epoch();
  }
  constexpr int kRestarts = 10;
  for (int i = 0; i < kRestarts; ++i) {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->version(), 2u) << "restart " << i;
    EXPECT_EQ(store->snapshot_message()->snapshot().version(), 2u);
    EXPECT_EQ(store->epoch(), epoch);
    EXPECT_EQ(*store->Reload(), 2u);  // Nothing changed on disk either.
  }
  EXPECT_EQ(ReadAll(File(kVersionFileName)), "2\n");
}

// Files changed while the control plane was stopped: the next version, never a reused one.
TEST_F(AppStoreTest, AChangeWhileStoppedTakesTheNextVersion) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
  }
  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("a", 7000)).ok());
  {
    auto store = Open();
    EXPECT_EQ(store->version(), 3u);
    EXPECT_EQ(store->Get("a")->endpoints(0).port(), 7000u);
  }
  EXPECT_EQ(Open()->version(), 3u);  // And that one is kept in turn.

  // Changed and changed back: the same apps as version 3.
  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("a", 7001)).ok());
  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("a", 7000)).ok());
  EXPECT_EQ(Open()->version(), 3u);

  // A new file, and a removed one.
  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("b")).ok());
  EXPECT_EQ(Open()->version(), 4u);
  ASSERT_TRUE(RemoveAppFile(dir_.path(), "b").ok());
  EXPECT_EQ(Open()->version(), 5u);

  // Without the digest record the store cannot tell: it moves on.
  ASSERT_TRUE(fs::remove(File(kDigestFileName)));
  EXPECT_EQ(Open()->version(), 6u);
  EXPECT_EQ(Open()->version(), 6u);
}

TEST_F(AppStoreTest, RefusesToOpenAndListsEveryError) {
  ASSERT_TRUE(
      WriteFileAtomically(File("a.json"), R"({"name": "a", "endpoints": [], "bogus": 1})").ok());
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

// An app that a fan-out route of another app names cannot be deleted alone: the snapshot would
// not compile on any data plane.
TEST_F(AppStoreTest, DeleteOfAnAppARouteNamesIsRefused) {
  auto store = Open();
  v1::AppConfig agg = MakeApp("agg");
  v1::Route* route = agg.add_routes();
  route->set_path("/user/{id}");
  route->add_backends()->set_app("users");
  ASSERT_TRUE(store->Apply(Req({MakeApp("users"), agg}), {}).ok());
  absl::StatusOr<uint64_t> refused = store->Delete("users", {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("routes[0].backends[0].app: no app named \"users\""),
            std::string::npos)
      << refused.status();
  EXPECT_TRUE(store->Get("users").ok());
  ASSERT_TRUE(store->Delete("agg", {}).ok());
  EXPECT_TRUE(store->Delete("users", {}).ok());
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
  // A new numbering: version 1 again, a new epoch.
  ASSERT_TRUE(fs::remove(File(kVersionFileName)));
  ASSERT_TRUE(fs::remove(File(kEpochFileName)));
  auto store = Open();
  EXPECT_EQ(store->version(), 1u);
  EXPECT_NE(store->epoch(), epoch);
  EXPECT_EQ(store->snapshot()->apps_size(), 1);
  // The digest record belongs to the new numbering.
  EXPECT_EQ(ReadAll(File(kDigestFileName)).rfind("1 ", 0), 0u) << ReadAll(File(kDigestFileName));
}

// The version and the epoch go together: one without the other, or either unreadable or zero, is
// refused naming the file, and the dir is left as it was.
TEST_F(AppStoreTest, AnIncompleteNumberingIsRefusedNamingTheFile) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Apply(Req({MakeApp("a")}), {}).ok());
  }
  const std::string version_text = ReadAll(File(kVersionFileName));
  const std::string epoch_text = ReadAll(File(kEpochFileName));
  auto restore = [&] {
    ASSERT_TRUE(WriteFileAtomically(File(kVersionFileName), version_text).ok());
    ASSERT_TRUE(WriteFileAtomically(File(kEpochFileName), epoch_text).ok());
  };
  struct Case {
    const char* file;
    std::string contents;  // "<missing>": removed.
    std::string error;
  };
  const std::vector<Case> cases = {
      {kEpochFileName, "<missing>",
       File(kEpochFileName) + ": missing, but " + File(kVersionFileName) +
           " (version 2) is there; restore it"},
      {kEpochFileName, "0\n",
       File(kEpochFileName) + ": expected a non-zero epoch number, got \"0\\n\""},
      {kEpochFileName, "", File(kEpochFileName) + ": expected a non-zero epoch number, got \"\""},
      {kEpochFileName, "12x\n",
       File(kEpochFileName) + ": expected a non-zero epoch number, got \"12x\\n\""},
      {kVersionFileName, "<missing>",
       File(kVersionFileName) + ": missing, but " + File(kEpochFileName) + " is there"},
      {kVersionFileName, "0\n", File(kVersionFileName) + ": expected a version number"},
      {kVersionFileName, "18446744073709551616\n",
       File(kVersionFileName) + ": expected a version number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.file, " holding \"", c.contents, "\""));
    restore();
    if (c.contents == "<missing>") {
      ASSERT_TRUE(fs::remove(File(c.file)));
    } else {
      ASSERT_TRUE(WriteFileAtomically(File(c.file), c.contents).ok());
    }
    auto store = AppStore::Open(dir_.path());
    ASSERT_FALSE(store.ok());
    EXPECT_NE(store.status().message().find(c.error), std::string::npos) << store.status();
    EXPECT_NE(store.status().message().find("to start a new numbering"), std::string::npos)
        << store.status();
    // Nothing was replaced.
    EXPECT_EQ(ReadAll(File(c.file)), c.contents);
  }
  restore();
  EXPECT_EQ(Open()->version(), 2u);
}

// A first start that stopped between the epoch file and the version file is a new numbering.
TEST_F(AppStoreTest, AnEpochFileAloneIsAFirstStartCutShort) {
  ASSERT_TRUE(WriteFileAtomically(File(kEpochFileName), "99\n").ok());
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version(), 1u);
  EXPECT_NE(store->epoch(), 99u);
}

// The last version: a start with the same apps keeps it, a change is refused instead of wrapping
// to 0, and a start with other apps is refused.
TEST_F(AppStoreTest, TheLastVersionIsNeverWrapped) {
  const std::string last = "18446744073709551615";
  ASSERT_TRUE(WriteFileAtomically(File(kVersionFileName), last + "\n").ok());
  ASSERT_TRUE(WriteFileAtomically(File(kEpochFileName), "5\n").ok());
  ASSERT_TRUE(WriteFileAtomically(File(kDigestFileName),
                                  absl::StrCat(last, " ", AppsDigest(v1::ConfigSnapshot()), "\n"))
                  .ok());
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->version(), UINT64_MAX);
    absl::StatusOr<uint64_t> v = store->Apply(Req({MakeApp("a")}), {});
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(v.status().message().find("version " + last + " is the last one (" +
                                        File(kVersionFileName) + ")"),
              std::string::npos)
        << v.status();
    EXPECT_EQ(store->version(), UINT64_MAX);
    EXPECT_FALSE(fs::exists(File("a.json")));
  }
  ASSERT_TRUE(WriteAppFile(dir_.path(), MakeApp("a")).ok());
  auto store = AppStore::Open(dir_.path());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(File(kVersionFileName) + ": version " + last +
                                          " is the last one"),
            std::string::npos)
      << store.status();
  EXPECT_EQ(ReadAll(File(kVersionFileName)), last + "\n");
}

// Apps with an auth key: a replaced file open to group or others is written 0600 (with a warning
// naming it); Open warns about each such file; files without a key keep their mode, and no key is
// ever logged.
TEST_F(AppStoreTest, FilesHoldingAKeyAreWrittenOwnerOnly) {
  v1::AppConfig keyed = MakeApp("keyed");
  keyed.set_authorize(true);
  keyed.set_auth_key("s3cret-key-value");
  v1::AppConfig closed = keyed;
  closed.set_name("closed");
  ASSERT_TRUE(WriteFileAtomically(File("keyed.json"), AppConfigToJson(keyed)).ok());
  ASSERT_TRUE(WriteFileAtomically(File("closed.json"), AppConfigToJson(closed)).ok());
  ASSERT_TRUE(WriteFileAtomically(File("plain.json"), AppConfigToJson(MakeApp("plain"))).ok());
  ASSERT_EQ(::chmod(File("keyed.json").c_str(), 0644), 0);
  ASSERT_EQ(::chmod(File("closed.json").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(File("plain.json").c_str(), 0644), 0);

  ::testing::internal::CaptureStderr();
  auto store = Open();
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_NE(store, nullptr);
  EXPECT_NE(log.find(File("keyed.json") + " holds the auth key of app keyed and group or others "
                                          "can access it (mode 0644)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("closed.json"), std::string::npos) << log;
  EXPECT_EQ(log.find("plain.json"), std::string::npos) << log;

  keyed.mutable_endpoints(0)->set_port(81);
  v1::AppConfig plain = MakeApp("plain", 81);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(store->Apply(Req({keyed, plain}), {}).ok());
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(fs::status(File("keyed.json")).permissions(), fs::perms(0600));
  EXPECT_EQ(fs::status(File("plain.json")).permissions(), fs::perms(0644));
  EXPECT_NE(log.find(File("keyed.json") + " holds an auth key and group or others could access "
                                          "it (mode 0644); it is now written 0600"),
            std::string::npos)
      << log;
  // Once: the next change has nothing to say.
  keyed.mutable_endpoints(0)->set_port(82);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(store->Apply(Req({keyed}), {}).ok());
  std::string again = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(again.find("keyed.json"), std::string::npos) << again;
  EXPECT_EQ((log + again).find("s3cret"), std::string::npos);
}

// The snapshot data planes accept bounds every change: one that would exceed it is refused with
// both sizes, and nothing changes (files, version, listeners); a dry run says the same.
TEST_F(AppStoreTest, AChangeOverTheSnapshotLimitIsRefused) {
  AppStoreOptions options;
  options.max_snapshot_bytes = 1000;
  auto opened = AppStore::Open(dir_.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  AppStore& store = **opened;
  auto big = [](const std::string& name) {
    v1::AppConfig app = MakeApp(name);
    app.set_description(std::string(400, 'd'));
    return app;
  };
  ASSERT_TRUE(store.Apply(Req({big("a"), big("b")}), {}).ok());
  int published = 0;
  store.Subscribe([&](const StoreChange&) { ++published; });

  // The size checked is the snapshot's with the widest version and epoch, so that no later version
  // can push an accepted set over.
  v1::ConfigSnapshot would_be = *store.snapshot();
  would_be.set_version(UINT64_MAX);
  would_be.set_epoch(UINT64_MAX);
  *would_be.add_apps() = big("c");
  const std::string expected =
      absl::StrCat("refused: a snapshot of the resulting 3 apps would be ", would_be.ByteSizeLong(),
                   " bytes, more than the 1000 bytes a data plane accepts; nothing changed");
  for (bool dry_run : {true, false}) {
    absl::StatusOr<uint64_t> v = store.Apply(Req({big("c")}), {dry_run, 0});
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_EQ(v.status().message(), expected);
  }
  // The same set reached through the conf dir.
  ASSERT_TRUE(WriteAppFile(dir_.path(), big("c")).ok());
  absl::StatusOr<uint64_t> reloaded = store.Reload();
  ASSERT_FALSE(reloaded.ok());
  EXPECT_EQ(reloaded.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(reloaded.status().message(), expected);

  EXPECT_EQ(store.version(), 2u);
  EXPECT_EQ(store.snapshot()->apps_size(), 2);
  EXPECT_EQ(ReadAll(File(kVersionFileName)), "2\n");
  EXPECT_EQ(published, 0);
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().rfind(kTxnFilePrefix, 0), std::string::npos);
  }
  // Shrinking is always possible.
  EXPECT_TRUE(store.Delete("a", {}).ok());
}

TEST_F(AppStoreTest, AConfDirOverTheSnapshotLimitIsRefusedAtStart) {
  v1::AppConfig app = MakeApp("a");
  app.set_description(std::string(2000, 'd'));
  ASSERT_TRUE(WriteAppFile(dir_.path(), app).ok());
  AppStoreOptions options;
  options.max_snapshot_bytes = 1000;
  auto store = AppStore::Open(dir_.path(), options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(store.status().message().find(
                absl::StrCat("conf dir ", dir_.path(), ": a snapshot of its 1 app would be ")),
            std::string::npos)
      << store.status();
  EXPECT_NE(store.status().message().find("more than the 1000 bytes a data plane accepts"),
            std::string::npos)
      << store.status();
  EXPECT_FALSE(fs::exists(File(kVersionFileName)));  // Nothing written.
}

// A reload that empties the set is accepted (an empty dir is valid) but never silently.
TEST_F(AppStoreTest, AReloadThatRemovesEveryAppWarnsNamingTheConfDir) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a"), MakeApp("b")}), {}).ok());
  ASSERT_TRUE(RemoveAppFile(dir_.path(), "a").ok());
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(*store->Reload(), 3u);
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.find("removed every app"), std::string::npos) << log;  // b is left.

  ASSERT_TRUE(RemoveAppFile(dir_.path(), "b").ok());
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(*store->Reload(), 4u);
  log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("reload of " + dir_.path() + " removed every app (1): version 4 has none"),
            std::string::npos)
      << log;
  EXPECT_EQ(store->snapshot()->apps_size(), 0);
}

// The conf dir as a crash during the change to version 3 leaves it: version 2 on disk (apps a and
// c, port 1), the new files of a and b (port 2) synced as temp files, the intent recorded (replace
// a, create b, remove c), and a half-written temp file of an unrelated atomic write.
class RecoveryTest : public AppStoreTest {
 protected:
  void SetUp() override {
    MakeInterruptedChange();
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      fs::copy_file(e.path(), fs::path(pristine_.path()) / e.path().filename());
    }
  }

  // Back to the state SetUp made (copied, not rewritten: many cases run this).
  void Reset() {
    Clear();
    for (const auto& e : fs::directory_iterator(pristine_.path())) {
      fs::copy_file(e.path(), fs::path(dir_.path()) / e.path().filename());
    }
  }

  void MakeInterruptedChange() {
    {
      auto store = Open();
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(store->Apply(Req({MakeApp("a", 1), MakeApp("c", 1)}), {}).ok());
      ASSERT_EQ(store->version(), 2u);
    }
    a2_ = AppConfigToJson(MakeApp("a", 2));
    b2_ = AppConfigToJson(MakeApp("b", 2));
    Put(".valet-txn.3.0", a2_);
    Put(".valet-txn.3.1", b2_);
    Put(".c.json.tmp.123.0", "{\"half\":");
    v1::ConfigSnapshot after;
    *after.add_apps() = MakeApp("a", 2);
    *after.add_apps() = MakeApp("b", 2);
    intent_.version = 3;
    intent_.apps_digest = AppsDigest(after);
    intent_.renames = {RenameOf(".valet-txn.3.0", "a.json", a2_),
                       RenameOf(".valet-txn.3.1", "b.json", b2_)};
    intent_.removes = {"c.json"};
    Put(kIntentFileName, SerializeIntent(intent_));
  }

  void Put(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(File(name), text).ok()) << name;
  }

  // Every file of the conf dir removed.
  void Clear() {
    for (const auto& e : fs::directory_iterator(dir_.path())) fs::remove(e.path());
  }

  // Opens the store (its log in `log`): it must start with version 2 and its apps, and no change
  // or temp file may be left.
  void ExpectOldState(std::string* log = nullptr) {
    ::testing::internal::CaptureStderr();
    absl::StatusOr<std::unique_ptr<AppStore>> store = AppStore::Open(dir_.path());
    std::string captured = ::testing::internal::GetCapturedStderr();
    if (log != nullptr) *log = captured;
    ASSERT_TRUE(store.ok()) << store.status() << "\n" << captured;
    EXPECT_EQ((*store)->version(), 2u) << captured;
    EXPECT_EQ((*store)->snapshot()->apps_size(), 2) << captured;
    absl::StatusOr<v1::AppConfig> a = (*store)->Get("a"), c = (*store)->Get("c");
    ASSERT_TRUE(a.ok() && c.ok()) << captured;
    EXPECT_EQ(a->endpoints(0).port(), 1u);
    EXPECT_EQ(c->endpoints(0).port(), 1u);
    EXPECT_FALSE((*store)->Get("b").ok());
    ExpectNoLeftovers();
  }

  void ExpectNoLeftovers() {
    for (const char* gone :
         {kIntentFileName, ".valet-txn.3.0", ".valet-txn.3.1", ".c.json.tmp.123.0", "b.json"}) {
      EXPECT_FALSE(fs::exists(File(gone))) << gone;
    }
  }

  TempDir pristine_;
  std::string a2_, b2_;
  ChangeIntent intent_;
};

// A crash after the intent was recorded: Open performs the whole change, and keeps its version.
TEST_F(RecoveryTest, CompletesARecordedChangeWhoseFilesAllMatch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version(), 3u);
  ASSERT_EQ(store->snapshot()->apps_size(), 2);
  EXPECT_EQ(store->Get("a")->endpoints(0).port(), 2u);
  EXPECT_EQ(store->Get("b")->endpoints(0).port(), 2u);
  EXPECT_FALSE(store->Get("c").ok());
  for (const char* gone :
       {kIntentFileName, ".valet-txn.3.0", ".valet-txn.3.1", ".c.json.tmp.123.0", "c.json"}) {
    EXPECT_FALSE(fs::exists(File(gone))) << gone;
  }
}

// A crash between two renames: the first is done (its temp file gone, its target holding the
// recorded bytes), the rest is completed.
TEST_F(RecoveryTest, CompletesAChangeCutShortBetweenRenames) {
  Put(kVersionFileName, "3\n");  // PerformIntent's first step.
  ASSERT_EQ(::rename(File(".valet-txn.3.0").c_str(), File("a.json").c_str()), 0);
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version(), 3u);
  EXPECT_EQ(store->Get("a")->endpoints(0).port(), 2u);
  EXPECT_EQ(store->Get("b")->endpoints(0).port(), 2u);
  EXPECT_FALSE(store->Get("c").ok());
}

TEST_F(RecoveryTest, DiscardsAChangeWhoseTempFileIsTruncated) {
  Put(".valet-txn.3.0", a2_.substr(0, a2_.size() / 2));
  std::string log;
  ExpectOldState(&log);
  EXPECT_NE(log.find(absl::StrCat(File(".valet-txn.3.0"), " is ", a2_.size() / 2,
                                  " bytes, the change recorded ", a2_.size())),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("completed the change"), std::string::npos) << log;
}

TEST_F(RecoveryTest, DiscardsAChangeWhoseTempFileIsCorruptButOfTheRightSize) {
  std::string altered = b2_;
  size_t port = altered.find("\"port\": 2");
  ASSERT_NE(port, std::string::npos) << altered;
  altered[port + 8] = '3';
  Put(".valet-txn.3.1", altered);
  std::string log;
  ExpectOldState(&log);
  EXPECT_NE(log.find(File(".valet-txn.3.1") + " does not match the SHA-256"), std::string::npos)
      << log;
}

TEST_F(RecoveryTest, DiscardsAChangeWhoseTempFileIsMissing) {
  ASSERT_TRUE(fs::remove(File(".valet-txn.3.1")));  // b.json does not exist either.
  std::string log;
  ExpectOldState(&log);
  EXPECT_NE(log.find(File(".valet-txn.3.1") + " is missing"), std::string::npos) << log;

  // The same with the first temp file gone while its target still holds the old app.
  Reset();
  ASSERT_TRUE(fs::remove(File(".valet-txn.3.0")));
  ExpectOldState();
}

// A crash while the intent was being written, or an intent damaged since: whatever prefix of it
// is on disk, the change never happened.
TEST_F(RecoveryTest, DiscardsAnIntentCutShortAnywhere) {
  const std::string whole = SerializeIntent(intent_);
  // Every length near the start, around every line break and in the checksum line; a sample of
  // the rest (each case costs a store start).
  auto worth_trying = [&whole](size_t length) {
    if (length < 32 || length + 72 > whole.size() || length % 11 == 0) return true;
    for (size_t near = length - 1; near <= length + 1; ++near) {
      if (whole[near] == '\n') return true;
    }
    return false;
  };
  for (size_t length = 0; length < whole.size(); ++length) {
    if (!worth_trying(length)) continue;
    SCOPED_TRACE(absl::StrCat("intent cut to ", length, " of ", whole.size(), " bytes"));
    Reset();
    std::ofstream(File(kIntentFileName), std::ios::binary | std::ios::trunc)
        << whole.substr(0, length);  // Not synced: hundreds of cases.
    ExpectOldState();
    if (::testing::Test::HasFailure()) break;  // One failing length says enough.
  }
}

TEST_F(RecoveryTest, DiscardsAGarbageOrAlteredIntent) {
  const std::string whole = SerializeIntent(intent_);
  std::string altered = whole;
  altered[altered.find("version 3")] = 'V';  // One byte of the body: the checksum catches it.
  std::string binary;
  for (int i = 0; i < 300; ++i) binary.push_back(static_cast<char>((i * 37) & 0xff));
  // An intent of an older Valet: its temp files cannot be checked.
  const std::string unchecked =
      "valet-intent 1\nversion 3\nrename .valet-txn.3.0 a.json\n"
      "rename .valet-txn.3.1 b.json\nremove c.json\nend\n";
  for (const std::string& text : {altered, binary, std::string("\n\n\n"), unchecked}) {
    Reset();
    Put(kIntentFileName, text);
    std::string log;
    ExpectOldState(&log);
    EXPECT_NE(log.find("discarding the interrupted change recorded in " + File(kIntentFileName)),
              std::string::npos)
        << log;
  }
}

TEST_F(AppStoreTest, AChangeLeavesNoIntentOrTempFiles) {
  auto store = Open();
  ASSERT_TRUE(store->Apply(Req({MakeApp("a"), MakeApp("b")}), {}).ok());
  ASSERT_TRUE(store->Delete("a", {}).ok());
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "b.json" || name == kVersionFileName || name == kEpochFileName ||
                name == kDigestFileName)
        << name;
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
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kOutOfRange), 413);
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

TEST(DataplaneRegistryTest, KeepsTheLastReportOfEachStream) {
  DataplaneRegistry registry;
  uint64_t token = registry.Connected("dp", "a", "p1", 1);
  EXPECT_FALSE(registry.List()[0].has_last_report());
  v1::StatusReport report;
  report.set_sequence(1);
  report.set_requests(10);
  registry.Reported(token, report);
  report.set_sequence(2);
  report.set_requests(25);
  report.set_errors(1);
  registry.Reported(token, report);
  v1::DataPlaneStatus status = registry.List()[0];
  EXPECT_EQ(status.reports(), 2u);
  EXPECT_EQ(status.last_report().sequence(), 2u);
  EXPECT_EQ(status.last_report().requests(), 25u);
  EXPECT_EQ(status.last_report().errors(), 1u);
  EXPECT_TRUE(status.has_last_report_time());
  EXPECT_LT(status.last_report_age_ms(), 60000u);
  registry.Reported(token + 100, report);  // Unknown stream: ignored.
  EXPECT_EQ(registry.List()[0].reports(), 2u);
  // A new stream of the same data plane starts with no report.
  registry.Connected("dp", "a", "p1", 1);
  EXPECT_FALSE(registry.List()[0].has_last_report());
  EXPECT_EQ(registry.List()[0].reports(), 0u);
}

// A change stuck in its write holds the change lock only: readers, Validate and the listeners of
// the previous version do not wait for it.
TEST(AppStoreSlowDiskTest, ReadersAndValidateDoNotWaitForAWrite) {
  TempDir dir;
  absl::Notification in_write, release;
  AppStoreOptions options;
  options.before_write = [&] {
    in_write.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(60));
  };
  auto store = AppStore::Open(dir.path(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<uint64_t> published;
  absl::Mutex published_mu;
  (*store)->Subscribe([&](const StoreChange& change) {
    // Called without the store lock: reading the store from a listener is fine.
    EXPECT_EQ((*store)->version(), change.version);
    absl::MutexLock lock(&published_mu);
    published.push_back(change.version);
  });
  std::thread writer([&] {
    absl::StatusOr<uint64_t> v = (*store)->Apply(Req({MakeApp("a")}), {});
    EXPECT_TRUE(v.ok()) << v.status();
  });
  ASSERT_TRUE(in_write.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The write is stuck; these answer at once from the published state.
  EXPECT_EQ((*store)->version(), 1u);
  EXPECT_EQ((*store)->snapshot()->apps_size(), 0);
  EXPECT_TRUE((*store)->Validate(Req({MakeApp("b")})).ok());
  EXPECT_FALSE((*store)->Validate(Req({MakeApp("")})).ok());
  EXPECT_TRUE(absl::IsNotFound((*store)->Get("a").status()));
  release.Notify();
  writer.join();
  EXPECT_EQ((*store)->version(), 2u);
  absl::MutexLock lock(&published_mu);
  EXPECT_EQ(published, std::vector<uint64_t>{2});
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
  ASSERT_TRUE(
      WriteFileAtomically((fs::path(cache) / kSnapshotCacheFileName).string(), "\xff\xff").ok());
  EXPECT_EQ(LoadSnapshotCache(cache).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace valet

namespace valet {
namespace {

// Redacted secrets (as GetApp shows them) applied back keep the stored keys, on disk and in the
// snapshot; Validate resolves them the same way; a marker of no stored key is refused.
TEST_F(AppStoreTest, RedactedKeysAppliedBackKeepTheStoredKeys) {
  v1::AppConfig keyed = MakeApp("keyed");
  keyed.set_authorize(true);
  keyed.set_auth_key("stored-app-key-1");
  v1::Consumer* alice = keyed.add_consumers();
  alice->set_name("alice");
  alice->set_key("stored-alice-key");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Apply(Req({keyed}), {}).ok());

  v1::AppConfig edited = RedactSecrets(keyed);
  edited.set_description("edited");
  EXPECT_TRUE(store->Validate(Req({edited})).ok());
  absl::StatusOr<uint64_t> applied = store->Apply(Req({edited}), {});
  ASSERT_TRUE(applied.ok()) << applied.status();
  absl::StatusOr<v1::AppConfig> got = store->Get("keyed");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->description(), "edited");
  EXPECT_EQ(got->auth_key(), "stored-app-key-1");
  EXPECT_EQ(got->consumers(0).key(), "stored-alice-key");
  std::string file = ReadAll(File("keyed.json"));
  EXPECT_NE(file.find("stored-alice-key"), std::string::npos) << file;
  EXPECT_EQ(file.find("redacted"), std::string::npos) << file;

  v1::AppConfig copy = RedactSecrets(keyed);
  copy.set_name("copy");
  absl::Status refused = store->Apply(Req({copy}), {}).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("apps[0]: authKey: is a redacted value"), std::string::npos)
      << refused;
  EXPECT_FALSE(store->Validate(Req({copy})).ok());
  EXPECT_EQ(store->version(), *applied);
}

}  // namespace
}  // namespace valet
