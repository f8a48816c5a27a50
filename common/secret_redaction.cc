#include "common/secret_redaction.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/string_view.h"

namespace valet {
namespace {

constexpr std::string_view kMarkerPrefix = "<redacted sha256:";
constexpr std::string_view kMarkerSuffix = ">";
constexpr size_t kMarkerHexDigits = 8;

// The marker's hex digits (IsRedactedMarker(marker) holds).
std::string_view MarkerDigits(std::string_view marker) {
  return marker.substr(kMarkerPrefix.size(), kMarkerHexDigits);
}

// True if `marker` stands for `secret`.
bool StandsFor(std::string_view marker, std::string_view secret) {
  if (secret.empty() || IsRedactedMarker(secret)) return false;
  return absl::StartsWith(Sha256Hex(secret), AsAbsl(MarkerDigits(marker)));
}

}  // namespace

std::string RedactedMarker(std::string_view secret) {
  return absl::StrCat(AsAbsl(kMarkerPrefix), Sha256Hex(secret).substr(0, kMarkerHexDigits),
                      AsAbsl(kMarkerSuffix));
}

bool IsRedactedMarker(std::string_view value) {
  if (value.size() != kMarkerPrefix.size() + kMarkerHexDigits + kMarkerSuffix.size()) return false;
  if (value.substr(0, kMarkerPrefix.size()) != kMarkerPrefix) return false;
  if (value.substr(value.size() - kMarkerSuffix.size()) != kMarkerSuffix) return false;
  for (char c : MarkerDigits(value)) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

v1::AppConfig RedactSecrets(const v1::AppConfig& app) {
  v1::AppConfig out = app;
  if (!out.auth_key().empty()) out.set_auth_key(RedactedMarker(out.auth_key()));
  for (v1::Consumer& consumer : *out.mutable_consumers()) {
    if (!consumer.key().empty()) consumer.set_key(RedactedMarker(consumer.key()));
  }
  return out;
}

void RestoreRedactedSecrets(const v1::AppConfig* stored, v1::AppConfig& app) {
  if (stored == nullptr) return;
  if (IsRedactedMarker(app.auth_key()) && StandsFor(app.auth_key(), stored->auth_key())) {
    app.set_auth_key(stored->auth_key());
  }
  for (v1::Consumer& consumer : *app.mutable_consumers()) {
    if (!IsRedactedMarker(consumer.key())) continue;
    for (const v1::Consumer& kept : stored->consumers()) {
      if (kept.name() == consumer.name() && StandsFor(consumer.key(), kept.key())) {
        consumer.set_key(kept.key());
        break;
      }
    }
  }
}

}  // namespace valet
