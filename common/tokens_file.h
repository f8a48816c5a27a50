// The tokens file of a Valet listener that checks callers (the control plane's --tokens-file, the
// data plane's --admin-tokens-file): one token a line, `NAME ROLE SHA256HEX`, blank lines and
// lines starting with `#` ignored. The file holds the SHA-256 of each token, never the token:
//
//   # name       role       sha256 of the token (printf %s "$TOKEN" | sha256sum)
//   ops-alice    admin      9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   grafana      read       ...
//   dp-eu-1      dataplane  ...
//
// Roles: admin (every call), read (the calls that only look), dataplane (the attach stream).
// Names are 1..64 of [A-Za-z0-9._-] and unique; so are digests (one token, one role).
#ifndef VALET_COMMON_TOKENS_FILE_H_
#define VALET_COMMON_TOKENS_FILE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sha256.h"

namespace valet {

enum class TokenRole { kAdmin, kRead, kDataplane };

// "admin", "read", "dataplane".
std::string_view TokenRoleName(TokenRole role);
std::optional<TokenRole> ParseTokenRole(std::string_view name);

// True if a token of role `have` may make a call that needs `need`: admin may do everything, the
// other roles only what needs exactly them.
bool RoleAllows(TokenRole have, TokenRole need);

struct TokenEntry {
  std::string name;
  TokenRole role = TokenRole::kRead;
  Sha256::Digest digest{};
};

// Parses the text of a tokens file. `source` names it in errors ("FILE:LINE: reason"); errors
// never quote a digest. A file without any token is refused (it would lock everybody out).
absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view text,
                                                        std::string_view source);

// Reads and parses `path`.
absl::StatusOr<std::vector<TokenEntry>> LoadTokensFile(const std::string& path);

// A client's token file (the data plane's and valetctl's --token-file): the token itself, on the
// first line; surrounding white space is dropped. Errors name the path, never the contents.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace valet

#endif  // VALET_COMMON_TOKENS_FILE_H_
