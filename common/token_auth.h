// TokenAuth: checks the bearer token a caller presents against a tokens file
// (common/tokens_file.h), for every Valet listener that takes tokens (the control plane's gRPC
// API and REST admin, the data plane's admin listener).
//
// The presented token is hashed with SHA-256 and compared with every digest of the file in
// constant time (no early exit, on the digest or on the entry), so neither the answer's timing
// nor its text says how close a guess was. Answers and their messages name a token by its NAME,
// never by the token or its digest.
//
// Threading: Check may be called from any thread, concurrently with Reload. Lifetime: the tokens
// are held as a shared_ptr<const>; a reload swaps them and calls in flight finish on the old ones.
#ifndef VALET_COMMON_TOKEN_AUTH_H_
#define VALET_COMMON_TOKEN_AUTH_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/tokens_file.h"

namespace valet {

// The token in an `authorization` field value: "Bearer TOKEN" (the scheme in any case, one or
// more spaces). Empty if the value is not of that form.
std::string_view BearerToken(std::string_view authorization);

struct AuthResult {
  // OK; UNAUTHENTICATED (no token, or one the file does not list); PERMISSION_DENIED (a listed
  // token whose role may not make the call).
  absl::Status status;
  std::string token_name;  // The name of the listed token; empty if none matched.
};

class TokenAuth {
 public:
  // Loads `path`; its errors are the file's (common/tokens_file.h).
  static absl::StatusOr<std::unique_ptr<TokenAuth>> Load(const std::string& path);
  // From entries already parsed (tests, in-process servers).
  explicit TokenAuth(std::vector<TokenEntry> entries, std::string path = "");

  // Re-reads the file. On an error the tokens in use stay and the error says why.
  absl::Status Reload();

  // Checks the value of the caller's `authorization` field (empty if it sent none) for a call
  // that needs `need`. `what` names the call in the PERMISSION_DENIED message ("ApplyApps").
  AuthResult Check(std::string_view authorization, TokenRole need, std::string_view what) const;

  // The entry of `token`, compared in constant time; nullptr if none.
  std::shared_ptr<const TokenEntry> Find(std::string_view token) const;

  size_t size() const;
  const std::string& path() const { return path_; }

 private:
  using Entries = std::vector<TokenEntry>;

  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Entries> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_COMMON_TOKEN_AUTH_H_
