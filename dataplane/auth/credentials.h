// An app's credentials as the snapshot compiles them (authorize: true): which header carries the
// key, whether it goes on to the backend, and every key the app accepts with the consumer it
// names (the seed's authKey is the anonymous consumer, name "").
//
// Keys are held as their SHA-256 only (a keySha256 consumer never had more). Finding the consumer
// of a presented key costs the same whatever the number of consumers: one SHA-256 of the key, one
// hash-table probe by digest, and a constant-time comparison of the digests it finds, so neither
// the number of consumers nor how much of a key is right shows in the time an answer takes.
//
// Immutable once compiled; shared by every worker of the snapshot.
#ifndef VALET_DATAPLANE_AUTH_CREDENTIALS_H_
#define VALET_DATAPLANE_AUTH_CREDENTIALS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "common/sha256.h"
#include "dataplane/snapshot.h"
#include "valet/v1/config.pb.h"

namespace valet {

// True if the `size` bytes at `a` and `b` are equal, in a time that depends on `size` only.
bool ConstantTimeEquals(const uint8_t* a, const uint8_t* b, size_t size);

class AppCredentials {
 public:
  // The credentials of `app` (valid, as Snapshot::Compile checks first), or null when the app
  // does not authorize.
  static std::shared_ptr<const AppCredentials> Compile(const v1::AppConfig& app);

  // The credential header's name (authHeader, default X-Valet-Auth).
  const std::string& header() const { return header_; }
  // True if the credential header is passed on to the backend (forwardAuthHeader).
  bool forward_header() const { return forward_header_; }
  // The WWW-Authenticate value of a 401 (RFC 9110 11.6.1): the scheme and the header to use.
  const std::string& challenge() const { return challenge_; }
  size_t key_count() const { return by_digest_.size(); }

  // The consumer whose key is `presented`, or null.
  const ConsumerRoute* Find(std::string_view presented) const;

 private:
  // The digest is uniformly distributed already: its first bytes are a hash.
  struct DigestHash {
    size_t operator()(const Sha256::Digest& d) const {
      size_t h;
      std::memcpy(&h, d.data(), sizeof(h));
      return h;
    }
  };
  struct DigestEq {
    bool operator()(const Sha256::Digest& a, const Sha256::Digest& b) const {
      return ConstantTimeEquals(a.data(), b.data(), a.size());
    }
  };

  std::string header_;
  bool forward_header_ = false;
  std::string challenge_;
  absl::flat_hash_map<Sha256::Digest, ConsumerRoute, DigestHash, DigestEq> by_digest_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_AUTH_CREDENTIALS_H_
