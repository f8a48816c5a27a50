// The TLS settings every data-plane context shares, client and server alike: TLS 1.2 and 1.3
// only; for 1.2, ECDHE key exchange with AEAD ciphers only; no renegotiation, no compression.
#ifndef VALET_DATAPLANE_TLS_TLS_POLICY_H_
#define VALET_DATAPLANE_TLS_TLS_POLICY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace valet {

// A context of `method` (tls_server or tls_client) with the policy applied.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakePolicyContext(
    boost::asio::ssl::context::method method);

// The TLS 1.2 cipher list of the policy (OpenSSL syntax).
extern const char kTls12Ciphers[];

// The reasons OpenSSL queued for the last failure, joined, and the queue cleared; `fallback`
// when there are none.
std::string TakeOpenSslErrors(const std::string& fallback);

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_TLS_POLICY_H_
