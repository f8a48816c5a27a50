#include "controlplane/listen_policy.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/listen_address.h"

namespace valet {
namespace {

absl::StatusOr<bool> IsLoopback(const std::string& listen) {
  absl::StatusOr<boost::asio::ip::tcp::endpoint> endpoint = ParseListenAddress(listen);
  if (!endpoint.ok()) return endpoint.status();
  return endpoint->address().is_loopback();
}

// The reasons each listener of `s` is unprotected beyond loopback (empty: none is).
absl::StatusOr<std::vector<std::string>> Exposures(const ListenSecurity& s) {
  std::vector<std::string> out;
  absl::StatusOr<bool> grpc_loopback = IsLoopback(s.grpc_listen);
  if (!grpc_loopback.ok()) return grpc_loopback.status();
  if (!*grpc_loopback && (!s.tls || !s.tokens)) {
    std::vector<std::string> missing;
    std::vector<std::string> flags;
    if (!s.tls) {
      missing.push_back("TLS");
      flags.push_back("--tls-cert and --tls-key");
    }
    if (!s.tokens) {
      missing.push_back("tokens");
      flags.push_back("--tokens-file");
    }
    out.push_back(absl::StrCat("the gRPC API on ", s.grpc_listen, " is beyond loopback without ",
                               absl::StrJoin(missing, " and "), ": set ",
                               absl::StrJoin(flags, " and "),
                               ", or listen on 127.0.0.1 (--grpc-listen 127.0.0.1:9090)"));
  }
  if (!s.http_listen.empty()) {
    absl::StatusOr<bool> http_loopback = IsLoopback(s.http_listen);
    if (!http_loopback.ok()) return http_loopback.status();
    if (!*http_loopback) {
      out.push_back(absl::StrCat(
          "the REST admin on ", s.http_listen,
          " is beyond loopback and speaks plain HTTP: listen on 127.0.0.1 (--http-listen "
          "127.0.0.1:9091), or --http-listen= to turn it off, and use the gRPC API with TLS"));
    }
  }
  return out;
}

}  // namespace

absl::Status CheckListenPolicy(const ListenSecurity& s) {
  absl::StatusOr<std::vector<std::string>> exposures = Exposures(s);
  if (!exposures.ok()) return exposures.status();
  if (exposures->empty() || s.insecure) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("refusing to start: ", absl::StrJoin(*exposures, "; "),
                   ". To run exposed anyway, pass --insecure"));
}

bool ExposedWithoutProtection(const ListenSecurity& s, std::string* what) {
  absl::StatusOr<std::vector<std::string>> exposures = Exposures(s);
  if (!exposures.ok() || exposures->empty()) return false;
  *what = absl::StrJoin(*exposures, "; ");
  return true;
}

}  // namespace valet
