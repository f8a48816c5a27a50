// Replays the checked-in fuzz corpora (fuzz/corpus/TARGET/: the hand-written seeds and every input
// a fuzzer found a bug with) through the checks the fuzz targets run, in the normal build: a bug
// a fuzzer found stays fixed without clang or libFuzzer.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/conf_dir.h"
#include "fuzz/app_config_json_check.h"
#include "fuzz/request_path_check.h"
#include "fuzz/snapshot_cache_check.h"
#include "fuzz/snapshot_compile_check.h"

namespace valet::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs `check` over every file under each of `dirs`; returns how many it read.
size_t Replay(const std::vector<fs::path>& dirs, absl::Status (*check)(std::string_view)) {
  size_t count = 0;
  for (const fs::path& dir : dirs) {
    for (const fs::path& file : FilesUnder(dir)) {
      absl::StatusOr<std::string> bytes = ReadFile(file.string());
      EXPECT_TRUE(bytes.ok()) << bytes.status();
      if (!bytes.ok()) continue;
      absl::Status status = check(*bytes);
      EXPECT_TRUE(status.ok()) << file << ": " << status;
      ++count;
    }
  }
  return count;
}

const fs::path kCorpus = fs::path(VALET_SOURCE_DIR) / "fuzz" / "corpus";

TEST(CorpusReplayTest, RequestPath) {
  EXPECT_GT(Replay({kCorpus / "request_path"}, RunRequestPath), 10u);
}

TEST(CorpusReplayTest, AppConfigJsonWithTheConfigFixtures) {
  fs::path source(VALET_SOURCE_DIR);
  EXPECT_GT(
      Replay({kCorpus / "app_config_json", source / "conf" / "apps", source / "tests" / "fixtures"},
             RunAppConfigJson),
      50u);
}

TEST(CorpusReplayTest, SnapshotCompile) {
  Replay({kCorpus / "snapshot_compile"}, RunSnapshotCompile);
}

TEST(CorpusReplayTest, SnapshotCache) { Replay({kCorpus / "snapshot_cache"}, RunSnapshotCache); }

}  // namespace
}  // namespace valet::fuzz
