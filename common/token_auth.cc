#include "common/token_auth.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/string_view.h"

namespace valet {

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ') return {};
  size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return {};
  rest = rest.substr(start);
  size_t end = rest.find_last_not_of(" \t");
  return rest.substr(0, end + 1);
}

TokenAuth::TokenAuth(std::vector<TokenEntry> entries, std::string path)
    : path_(std::move(path)), entries_(std::make_shared<const Entries>(std::move(entries))) {}

absl::StatusOr<std::unique_ptr<TokenAuth>> TokenAuth::Load(const std::string& path) {
  absl::StatusOr<std::vector<TokenEntry>> entries = LoadTokensFile(path);
  if (!entries.ok()) return entries.status();
  return std::make_unique<TokenAuth>(std::move(*entries), path);
}

absl::Status TokenAuth::Reload() {
  if (path_.empty()) return absl::FailedPreconditionError("no tokens file to reload");
  absl::StatusOr<std::vector<TokenEntry>> entries = LoadTokensFile(path_);
  if (!entries.ok()) return entries.status();
  auto fresh = std::make_shared<const Entries>(std::move(*entries));
  std::shared_ptr<const Entries> old;  // Dies after the lock is released.
  absl::MutexLock lock(&mu_);
  old = std::exchange(entries_, std::move(fresh));
  return absl::OkStatus();
}

size_t TokenAuth::size() const {
  absl::MutexLock lock(&mu_);
  return entries_->size();
}

std::shared_ptr<const TokenEntry> TokenAuth::Find(std::string_view token) const {
  std::shared_ptr<const Entries> entries;
  {
    absl::MutexLock lock(&mu_);
    entries = entries_;
  }
  Sha256 hasher;
  hasher.Update(token);
  const Sha256::Digest digest = hasher.Finish();
  // Every entry is compared, every byte of each, whatever matched.
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : *entries) {
    uint8_t diff = 0;
    for (size_t i = 0; i < digest.size(); ++i) diff |= digest[i] ^ entry.digest[i];
    // Branch-free selection of the matching entry.
    uintptr_t match = static_cast<uintptr_t>(0) - static_cast<uintptr_t>(diff == 0);
    found = reinterpret_cast<const TokenEntry*>((reinterpret_cast<uintptr_t>(&entry) & match) |
                                                (reinterpret_cast<uintptr_t>(found) & ~match));
  }
  if (found == nullptr) return nullptr;
  // Shares ownership of the whole table, so a reload cannot free the entry under the caller.
  return std::shared_ptr<const TokenEntry>(entries, found);
}

AuthResult TokenAuth::Check(std::string_view authorization, TokenRole need,
                            std::string_view what) const {
  std::string_view token = BearerToken(authorization);
  if (token.empty()) {
    return {
        absl::UnauthenticatedError(
            authorization.empty() ? "a token is required: send `authorization: Bearer TOKEN`"
                                  : "the authorization field is not of the form `Bearer TOKEN`"),
        ""};
  }
  std::shared_ptr<const TokenEntry> entry = Find(token);
  if (entry == nullptr) return {absl::UnauthenticatedError("unknown token"), ""};
  if (!RoleAllows(entry->role, need)) {
    return {absl::PermissionDeniedError(absl::StrCat(
                "token ", entry->name, " has the role ", AsAbsl(TokenRoleName(entry->role)),
                ", which may not call ", AsAbsl(what), " (it needs ", AsAbsl(TokenRoleName(need)),
                need == TokenRole::kAdmin ? ")" : " or admin)")),
            entry->name};
  }
  return {absl::OkStatus(), entry->name};
}

}  // namespace valet
