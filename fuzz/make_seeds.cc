// valet-fuzz-seeds: writes the binary seed corpora of the snapshot fuzzers from app config files,
// so the seeds follow the fixtures instead of being checked-in binaries.
//
// Usage: valet-fuzz-seeds OUT_DIR JSON_DIR...
// Every *.json of each JSON_DIR (not recursive) that parses becomes a snapshot of its own (valid
// or not: the compiler's refusals are worth fuzzing too); the valid ones together make one more.
// Writes OUT_DIR/snapshot_compile/NAME.binpb (ConfigSnapshot bytes) and
// OUT_DIR/snapshot_cache/NAME.cache (the cache file of the same snapshot).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/app_config_json.h"
#include "common/app_config_validation.h"
#include "common/conf_dir.h"
#include "dataplane/snapshot_cache.h"

namespace valet {
namespace {

absl::Status WriteSeeds(const std::filesystem::path& out, const std::string& name,
                        const v1::ConfigSnapshot& snapshot) {
  std::string bytes;
  if (!snapshot.SerializeToString(&bytes)) return absl::InternalError("cannot serialise");
  absl::Status written =
      WriteFileAtomically((out / "snapshot_compile" / (name + ".binpb")).string(), bytes);
  if (!written.ok()) return written;
  absl::StatusOr<std::string> cache = EncodeSnapshotCache(snapshot);
  if (!cache.ok()) return cache.status();
  return WriteFileAtomically((out / "snapshot_cache" / (name + ".cache")).string(), *cache);
}

absl::Status Run(const std::filesystem::path& out, const std::vector<std::string>& dirs) {
  std::error_code ec;
  for (const char* sub : {"snapshot_compile", "snapshot_cache"}) {
    std::filesystem::create_directories(out / sub, ec);
    if (ec) return absl::InternalError(absl::StrCat("create ", (out / sub).string()));
  }
  v1::ConfigSnapshot all;
  all.set_version(1);
  std::set<std::string> names;
  uint64_t version = 1;
  for (const std::string& dir : dirs) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    if (ec) return absl::InternalError(absl::StrCat("list ", dir, ": ", ec.message()));
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
      absl::StatusOr<std::string> text = ReadFile(file.string());
      if (!text.ok()) return text.status();
      absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(*text, file.string());
      if (!app.ok()) continue;
      v1::ConfigSnapshot one;
      one.set_version(++version);
      *one.add_apps() = *app;
      std::string seed =
          absl::StrCat(file.parent_path().filename().string(), "_", file.stem().string());
      if (absl::Status s = WriteSeeds(out, seed, one); !s.ok()) return s;
      if (ValidateAppConfig(*app, "seed").empty() && names.insert(app->name()).second) {
        *all.add_apps() = *app;
      }
    }
  }
  return WriteSeeds(out, "all_valid", all);
}

}  // namespace
}  // namespace valet

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: valet-fuzz-seeds OUT_DIR JSON_DIR...\n");
    return 2;
  }
  absl::Status status = valet::Run(argv[1], std::vector<std::string>(argv + 2, argv + argc));
  if (!status.ok()) {
    std::fprintf(stderr, "valet-fuzz-seeds: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
