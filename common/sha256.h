// SHA-256 (FIPS 180-4), self-contained.
//
// For checksums that are written to disk and compared by a later run (the control plane's change
// intents and the digest of its loaded app set): the result must be the same in every build and on
// every platform, which absl::Hash and std::hash do not promise. SHA-256 rather than a CRC because
// a kept version number rests on "same digest, same apps": a collision there would let data planes
// keep serving stale apps, so the digest must be collision-resistant, not only error-detecting.
// Not constant-time; not for comparing secrets.
//
// Threading: a Sha256 object is used by one thread at a time; the free function is thread-safe.
#ifndef VALET_COMMON_SHA256_H_
#define VALET_COMMON_SHA256_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace valet {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();

  // Appends `data` to the message.
  void Update(std::string_view data);

  // The digest of everything appended. The object must not be used afterwards.
  Digest Finish();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;  // Bytes in buffer_.
  uint64_t total_bytes_ = 0;
};

// Lower-case hex of a digest (64 characters).
std::string ToHex(const Sha256::Digest& digest);

// ToHex(SHA-256 of `data`).
std::string Sha256Hex(std::string_view data);

}  // namespace valet

#endif  // VALET_COMMON_SHA256_H_
