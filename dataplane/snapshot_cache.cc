#include "dataplane/snapshot_cache.h"

#include <boost/crc.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/message_limits.h"
#include "common/status_macros.h"

namespace valet {
namespace {

constexpr size_t kMagicBytes = sizeof(kSnapshotCacheMagic) - 1;
static_assert(kMagicBytes == 8 && kSnapshotCacheHeaderBytes == kMagicBytes + 8 + 4);

// The data plane never receives a snapshot larger than one gRPC message, so it never writes one;
// a larger file is refused before it is read into memory.
constexpr uint64_t kMaxCachedSnapshotBytes = kMaxGrpcMessageBytes;

std::string CachePath(const std::string& dir) {
  return (std::filesystem::path(dir) / kSnapshotCacheFileName).string();
}

uint32_t Crc32(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

// Little-endian whatever the host: the file may move between machines.
void PutLittleEndian(uint64_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t GetLittleEndian(std::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return value;
}

}  // namespace

absl::StatusOr<std::string> EncodeSnapshotCache(const v1::ConfigSnapshot& snapshot) {
  std::string payload;
  if (!snapshot.SerializeToString(&payload)) {
    return absl::InternalError("cannot serialise the snapshot");
  }
  std::string bytes(kSnapshotCacheMagic, kMagicBytes);
  bytes.reserve(kSnapshotCacheHeaderBytes + payload.size());
  PutLittleEndian(payload.size(), 8, &bytes);
  PutLittleEndian(Crc32(payload), 4, &bytes);
  bytes += payload;
  return bytes;
}

absl::StatusOr<v1::ConfigSnapshot> DecodeSnapshotCache(std::string_view bytes) {
  if (bytes.empty()) return absl::DataLossError("empty file");
  if (bytes.size() < kMagicBytes ||
      std::memcmp(bytes.data(), kSnapshotCacheMagic, kMagicBytes) != 0) {
    return absl::DataLossError(
        absl::StrCat("not a snapshot cache (it does not start with \"", kSnapshotCacheMagic,
                     "\"; a cache written before this format is not trusted)"));
  }
  if (bytes.size() < kSnapshotCacheHeaderBytes) {
    return absl::DataLossError(absl::StrCat("cut short: ", bytes.size(),
                                            " bytes, less than the header (",
                                            kSnapshotCacheHeaderBytes, ")"));
  }
  uint64_t length = GetLittleEndian(bytes.substr(kMagicBytes), 8);
  uint32_t crc = static_cast<uint32_t>(GetLittleEndian(bytes.substr(kMagicBytes + 8), 4));
  std::string_view payload = bytes.substr(kSnapshotCacheHeaderBytes);
  if (length > kMaxCachedSnapshotBytes) {
    return absl::DataLossError(absl::StrCat("the header gives a snapshot of ", length,
                                            " bytes, more than any snapshot (",
                                            kMaxCachedSnapshotBytes, ")"));
  }
  if (payload.size() != length) {
    return absl::DataLossError(absl::StrCat(
        payload.size() < length ? "cut short" : "trailing bytes", ": the header gives ", length,
        " bytes of snapshot, the file holds ", payload.size()));
  }
  if (Crc32(payload) != crc) {
    return absl::DataLossError("checksum mismatch: the snapshot is damaged");
  }
  v1::ConfigSnapshot snapshot;
  if (!snapshot.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError("the snapshot does not parse");
  }
  if (snapshot.version() == 0) {
    return absl::DataLossError("snapshot version 0: no control plane sends it");
  }
  return snapshot;
}

absl::Status SaveSnapshotCache(const std::string& dir, const v1::ConfigSnapshot& snapshot) {
  if (snapshot.version() == 0) {
    return absl::InvalidArgumentError("not caching snapshot version 0: it is no snapshot");
  }
  ASSIGN_OR_RETURN(std::string bytes, EncodeSnapshotCache(snapshot));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  return WriteFileAtomically(CachePath(dir), bytes);
}

absl::StatusOr<v1::ConfigSnapshot> LoadSnapshotCache(const std::string& dir) {
  std::string path = CachePath(dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no cached snapshot"));
  }
  uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return absl::DataLossError(absl::StrCat(path, ": ", ec.message()));
  if (size > kSnapshotCacheHeaderBytes + kMaxCachedSnapshotBytes) {
    return absl::DataLossError(absl::StrCat(path, ": ", size, " bytes, more than any snapshot"));
  }
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return absl::DataLossError(bytes.status().message());
  absl::StatusOr<v1::ConfigSnapshot> snapshot = DecodeSnapshotCache(*bytes);
  if (!snapshot.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", snapshot.status().message()));
  }
  return snapshot;
}

}  // namespace valet
