#include "common/tokens_file.h"

#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/conf_dir.h"
#include "common/string_view.h"

namespace valet {
namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxTokens = 10000;

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseDigest(std::string_view hex, Sha256::Digest* digest) {
  if (hex.size() != 2 * digest->size()) return false;
  for (size_t i = 0; i < digest->size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*digest)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

}  // namespace

std::string_view TokenRoleName(TokenRole role) {
  switch (role) {
    case TokenRole::kAdmin:
      return "admin";
    case TokenRole::kRead:
      return "read";
    case TokenRole::kDataplane:
      return "dataplane";
  }
  return "unknown";
}

std::optional<TokenRole> ParseTokenRole(std::string_view name) {
  for (TokenRole role : {TokenRole::kAdmin, TokenRole::kRead, TokenRole::kDataplane}) {
    if (name == TokenRoleName(role)) return role;
  }
  return std::nullopt;
}

bool RoleAllows(TokenRole have, TokenRole need) {
  return have == TokenRole::kAdmin || have == need;
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokensFile(std::string_view text,
                                                        std::string_view source) {
  std::vector<TokenEntry> entries;
  std::vector<std::string> errors;
  std::set<std::string> names;
  std::set<Sha256::Digest> digests;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(AsAbsl(text), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    auto error = [&](std::string_view reason) {
      errors.push_back(absl::StrCat(AsAbsl(source), ":", line_number, ": ", AsAbsl(reason)));
    };
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 3) {
      error(absl::StrCat("expected `NAME ROLE SHA256HEX`, got ", fields.size(), " fields"));
      continue;
    }
    TokenEntry entry;
    entry.name = std::string(fields[0]);
    if (!ValidName(entry.name)) {
      error("the name must be 1 to 64 of A-Z a-z 0-9 . _ -");
      continue;
    }
    std::optional<TokenRole> role = ParseTokenRole(AsStd(fields[1]));
    if (!role.has_value()) {
      // The field is not quoted: a line in the wrong order could hold a token there.
      error(absl::StrCat("token ", entry.name, ": unknown role (roles: admin, read, dataplane)"));
      continue;
    }
    entry.role = *role;
    if (!ParseDigest(AsStd(fields[2]), &entry.digest)) {
      error(absl::StrCat("token ", entry.name,
                         ": the third field must be the SHA-256 of the token, 64 hex digits "
                         "(printf %s \"$TOKEN\" | sha256sum), never the token itself"));
      continue;
    }
    if (!names.insert(entry.name).second) {
      error(absl::StrCat("token ", entry.name, ": the name is given twice"));
      continue;
    }
    if (!digests.insert(entry.digest).second) {
      error(absl::StrCat("token ", entry.name, ": the same token is listed twice"));
      continue;
    }
    if (entries.size() >= kMaxTokens) {
      error(absl::StrCat("more than ", kMaxTokens, " tokens"));
      break;
    }
    entries.push_back(std::move(entry));
  }
  if (errors.empty() && entries.empty()) {
    errors.push_back(absl::StrCat(AsAbsl(source), ": no tokens (each line: NAME ROLE SHA256HEX)"));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return entries;
}

absl::StatusOr<std::vector<TokenEntry>> LoadTokensFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseTokensFile(*text, path);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file ", path, ": cannot read (", text.status().message(), ")"));
  }
  absl::string_view first = AsAbsl(*text);
  first = first.substr(0, first.find('\n'));
  first = absl::StripAsciiWhitespace(first);
  if (first.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token-file ", path, ": empty"));
  }
  for (char c : first) {
    // The token goes into a header field: visible ASCII only.
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token-file ", path, ": the token must be one word of visible ASCII characters"));
    }
  }
  return std::string(first);
}

}  // namespace valet
