#include "fuzz/snapshot_compile_check.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/app_config_validation.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "dataplane/snapshot_cache.h"
#include "google/protobuf/util/message_differencer.h"

namespace valet::fuzz {

absl::Status RunSnapshotCompile(std::string_view bytes) {
  v1::ConfigSnapshot config;
  if (!config.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::OkStatus();
  }
  std::vector<SourcedApp> sourced;
  for (const v1::AppConfig& app : config.apps()) sourced.push_back({app, "fuzz"});
  bool valid = ValidateAppSet(sourced).ok();

  Metrics metrics;
  RateLimits limits;
  absl::StatusOr<std::shared_ptr<const Snapshot>> snapshot =
      Snapshot::Compile(config, metrics, limits);
  if (snapshot.ok() != valid) {
    return absl::InternalError(absl::StrCat("Compile ", snapshot.ok() ? "accepts" : "refuses",
                                            " a snapshot that validation ",
                                            valid ? "accepts" : "refuses"));
  }
  if (snapshot.ok()) {
    const Snapshot& s = **snapshot;
    if (s.version() != config.version() ||
        s.app_count() != static_cast<size_t>(config.apps_size())) {
      return absl::InternalError("the compiled snapshot lost its version or an app");
    }
    absl::flat_hash_set<std::string> keys = s.EndpointKeys();
    for (const v1::AppConfig& app : config.apps()) {
      const AppRoute* route = s.Find(app.name());
      if (route == nullptr || route->name != app.name() ||
          route->endpoints.size() != static_cast<size_t>(app.endpoints_size())) {
        return absl::InternalError("a compiled app does not route by its name to its endpoints");
      }
      for (const EndpointSpec& ep : route->endpoints) {
        if (!keys.contains(ep.key) || ep.port == 0 || ep.host_header.empty()) {
          return absl::InternalError("a compiled endpoint has no key, port or Host");
        }
      }
    }
  }

  if (config.version() == 0) return absl::OkStatus();  // Never cached.
  absl::StatusOr<std::string> file = EncodeSnapshotCache(config);
  if (!file.ok()) return absl::OkStatus();  // Too large to serialise: never sent either.
  absl::StatusOr<v1::ConfigSnapshot> read = DecodeSnapshotCache(*file);
  if (!read.ok()) {
    return absl::InternalError(
        absl::StrCat("the cache does not read back what it wrote: ", read.status().message()));
  }
  if (!google::protobuf::util::MessageDifferencer::Equals(config, *read)) {
    return absl::InternalError("the cache reads back another snapshot");
  }
  return absl::OkStatus();
}

}  // namespace valet::fuzz
