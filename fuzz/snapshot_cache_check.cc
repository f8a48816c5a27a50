#include "fuzz/snapshot_cache_check.h"

#include <boost/crc.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "dataplane/snapshot_cache.h"
#include "google/protobuf/util/message_differencer.h"

namespace valet::fuzz {
namespace {

constexpr size_t kMagicBytes = sizeof(kSnapshotCacheMagic) - 1;

// `bytes` with the header's magic, length and checksum set to match what follows it.
std::string WithMatchingHeader(std::string_view bytes) {
  std::string_view payload =
      bytes.size() > kSnapshotCacheHeaderBytes ? bytes.substr(kSnapshotCacheHeaderBytes) : "";
  boost::crc_32_type crc;
  crc.process_bytes(payload.data(), payload.size());
  std::string file(kSnapshotCacheMagic, kMagicBytes);
  uint64_t length = payload.size();
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  uint32_t sum = crc.checksum();
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
  file.append(payload);
  return file;
}

absl::Status CheckDecoded(std::string_view file) {
  absl::StatusOr<v1::ConfigSnapshot> snapshot = DecodeSnapshotCache(file);
  if (!snapshot.ok()) return absl::OkStatus();
  if (snapshot->version() == 0) return absl::InternalError("a cache of version 0 is read");
  absl::StatusOr<std::string> again = EncodeSnapshotCache(*snapshot);
  if (!again.ok()) return absl::InternalError("a snapshot read from a cache cannot be written");
  absl::StatusOr<v1::ConfigSnapshot> reread = DecodeSnapshotCache(*again);
  if (!reread.ok() || !google::protobuf::util::MessageDifferencer::Equals(*snapshot, *reread)) {
    return absl::InternalError("a snapshot read from a cache does not read back unchanged");
  }
  Metrics metrics;
  RateLimits limits;
  (void)Snapshot::Compile(*snapshot, metrics, limits);  // Refused or not: it must not crash.
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSnapshotCache(std::string_view bytes) {
  absl::Status as_is = CheckDecoded(bytes);
  if (!as_is.ok()) return as_is;
  return CheckDecoded(WithMatchingHeader(bytes));
}

}  // namespace valet::fuzz
