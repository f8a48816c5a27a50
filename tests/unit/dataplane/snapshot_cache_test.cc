#include "dataplane/snapshot_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/conf_dir.h"
#include "tests/support/process.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

v1::ConfigSnapshot TwoApps(uint64_t version = 5) {
  v1::ConfigSnapshot snapshot;
  snapshot.set_version(version);
  for (const char* name : {"alpha", "beta"}) {
    v1::AppConfig* app = snapshot.add_apps();
    app->set_name(name);
    v1::Endpoint* endpoint = app->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(9000);
  }
  return snapshot;
}

class SnapshotCacheTest : public ::testing::Test {
 protected:
  std::string CacheDir() const { return dir_.Join("cache"); }
  std::string CacheFile() const { return CacheDir() + "/" + kSnapshotCacheFileName; }
  void WriteCacheFile(const std::string& bytes) {
    fs::create_directories(CacheDir());
    std::ofstream(CacheFile(), std::ios::binary | std::ios::trunc) << bytes;
  }
  // Loads and expects DataLoss naming the file and saying `why`.
  void ExpectRefused(const std::string& why) {
    absl::StatusOr<v1::ConfigSnapshot> loaded = LoadSnapshotCache(CacheDir());
    ASSERT_FALSE(loaded.ok()) << "version " << loaded->version() << ", " << loaded->apps_size()
                              << " apps";
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(CacheFile()));
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(why));
  }

  testing::TempDir dir_;
};

TEST_F(SnapshotCacheTest, SavesAndLoadsTheSameSnapshot) {
  EXPECT_EQ(LoadSnapshotCache(CacheDir()).status().code(), absl::StatusCode::kNotFound);
  v1::ConfigSnapshot snapshot = TwoApps();
  snapshot.set_epoch(42);
  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), snapshot).ok());
  absl::StatusOr<v1::ConfigSnapshot> loaded = LoadSnapshotCache(CacheDir());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), snapshot.SerializeAsString());
}

TEST_F(SnapshotCacheTest, AnEmptyFileIsNoSnapshot) {
  // Parsed as bare protobuf, an empty file is a valid snapshot: version 0, no apps.
  v1::ConfigSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(""));
  WriteCacheFile("");
  ExpectRefused("empty file");
}

TEST_F(SnapshotCacheTest, VersionZeroIsNoSnapshot) {
  v1::ConfigSnapshot zero = TwoApps(/*version=*/0);
  absl::StatusOr<std::string> bytes = EncodeSnapshotCache(zero);
  ASSERT_TRUE(bytes.ok());
  WriteCacheFile(*bytes);
  ExpectRefused("version 0");
  absl::Status saved = SaveSnapshotCache(dir_.Join("other"), zero);
  EXPECT_EQ(saved.code(), absl::StatusCode::kInvalidArgument) << saved;
  EXPECT_FALSE(fs::exists(dir_.Join("other") + "/" + kSnapshotCacheFileName));
}

TEST_F(SnapshotCacheTest, AFileCutShortAtAnAppBoundaryIsRefused) {
  // The first app alone is a prefix of the serialised snapshot that parses on its own: without a
  // length in the header, a cut file would serve a config missing its last app.
  v1::ConfigSnapshot full = TwoApps();
  v1::ConfigSnapshot first = full;
  first.mutable_apps()->RemoveLast();
  std::string full_payload = full.SerializeAsString();
  std::string prefix = first.SerializeAsString();
  ASSERT_EQ(full_payload.compare(0, prefix.size(), prefix), 0);
  v1::ConfigSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(prefix));

  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), full).ok());
  absl::StatusOr<std::string> bytes = ReadFile(CacheFile());
  ASSERT_TRUE(bytes.ok());
  WriteCacheFile(bytes->substr(0, kSnapshotCacheHeaderBytes + prefix.size()));
  ExpectRefused("cut short");
}

TEST_F(SnapshotCacheTest, EveryShorterFileIsRefused) {
  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), TwoApps()).ok());
  absl::StatusOr<std::string> bytes = ReadFile(CacheFile());
  ASSERT_TRUE(bytes.ok());
  ASSERT_LT(bytes->size(), 1000u);  // Bounds the loop.
  for (size_t size = 0; size < bytes->size(); ++size) {
    EXPECT_FALSE(DecodeSnapshotCache(bytes->substr(0, size)).ok()) << size << " bytes";
  }
}

TEST_F(SnapshotCacheTest, DamagedOrPaddedOrForeignFilesAreRefused) {
  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), TwoApps()).ok());
  absl::StatusOr<std::string> good = ReadFile(CacheFile());
  ASSERT_TRUE(good.ok());

  std::string damaged = *good;
  damaged[damaged.size() - 5] ^= 0x01;  // Inside the last host name.
  v1::ConfigSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(damaged.substr(kSnapshotCacheHeaderBytes)))
      << "the damage should be one that protobuf cannot see";
  WriteCacheFile(damaged);
  ExpectRefused("checksum mismatch");

  WriteCacheFile(*good + "x");
  ExpectRefused("trailing bytes");

  WriteCacheFile(TwoApps().SerializeAsString());  // A bare protobuf (the old format).
  ExpectRefused("not a snapshot cache");

  WriteCacheFile("\xff\xff garbage");
  ExpectRefused("not a snapshot cache");

  std::string huge = *good;
  huge[8 + 7] = '\x7f';  // The top byte of the length.
  WriteCacheFile(huge);
  ExpectRefused("more than any snapshot");
}

TEST_F(SnapshotCacheTest, SaveReplacesTheFileAtomically) {
  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), TwoApps(5)).ok());
  // A writer that crashed before its rename leaves a temp file; it is never read.
  std::string stale = CacheDir() + "/." + kSnapshotCacheFileName + ".tmp.1.0";
  std::ofstream(stale, std::ios::binary) << "VLTSNAP1 partial";
  ASSERT_TRUE(LoadSnapshotCache(CacheDir()).ok());
  fs::remove(stale);

  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), TwoApps(6)).ok());
  absl::StatusOr<v1::ConfigSnapshot> loaded = LoadSnapshotCache(CacheDir());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version(), 6u);
  // Written through a temp file and renamed: nothing else is left in the directory.
  int files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(CacheDir())) {
    EXPECT_EQ(entry.path().filename(), kSnapshotCacheFileName);
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(SnapshotCacheTest, AnUnwritableDirectoryIsAnError) {
  std::string file = dir_.WriteFile("not-a-dir", "x");
  absl::Status saved = SaveSnapshotCache(file, TwoApps());
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(std::string(saved.message()), HasSubstr(file));
}

}  // namespace
}  // namespace valet
