#include "dataplane/auth/credentials.h"

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "common/string_view.h"

namespace valet {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The digest a keySha256 names (64 hex digits, either case), or nothing.
std::optional<Sha256::Digest> ParseDigest(std::string_view hex) {
  Sha256::Digest digest{};
  if (hex.size() != 2 * digest.size()) return std::nullopt;
  for (size_t i = 0; i < digest.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    digest[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return digest;
}

Sha256::Digest DigestOf(std::string_view key) {
  Sha256 sha;
  sha.Update(key);
  return sha.Finish();
}

}  // namespace

bool ConstantTimeEquals(const uint8_t* a, const uint8_t* b, size_t size) {
  // Every byte is read whatever the others hold; volatile keeps the compiler from stopping early.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < size; ++i) diff = diff | (a[i] ^ b[i]);
  return diff == 0;
}

std::shared_ptr<const AppCredentials> AppCredentials::Compile(const v1::AppConfig& app) {
  if (!app.authorize()) return nullptr;
  auto credentials = std::make_shared<AppCredentials>();
  credentials->header_ = std::string(AuthHeaderOf(app));
  credentials->forward_header_ = app.forward_auth_header();
  credentials->challenge_ = absl::StrCat("ApiKey header=\"", credentials->header_, "\"");
  credentials->by_digest_.reserve(app.consumers_size() + 1);
  if (!app.auth_key().empty()) {
    // The seed's single key: the anonymous consumer, which has no budget of its own.
    credentials->by_digest_.emplace(DigestOf(app.auth_key()), ConsumerRoute{});
  }
  for (const v1::Consumer& c : app.consumers()) {
    std::optional<Sha256::Digest> digest =
        c.key().empty() ? ParseDigest(c.key_sha256()) : DigestOf(c.key());
    if (!digest) continue;  // Validation refuses it first.
    ConsumerRoute route;
    route.name = c.name();
    route.limit_value = c.limit_value();
    route.limit_period = std::chrono::seconds(
        c.limit_period_seconds() == 0 ? kDefaultLimitPeriodSeconds : c.limit_period_seconds());
    credentials->by_digest_.emplace(*digest, std::move(route));
  }
  return credentials;
}

const ConsumerRoute* AppCredentials::Find(std::string_view presented) const {
  auto it = by_digest_.find(DigestOf(presented));
  return it == by_digest_.end() ? nullptr : &it->second;
}

}  // namespace valet
