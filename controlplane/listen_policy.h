// Closed by default: the control plane listens beyond loopback only when callers are both
// authenticated (a tokens file) and encrypted (TLS), or when the operator says --insecure.
//
//   gRPC (--grpc-listen) on a non-loopback address: needs --tls-cert, --tls-key and
//     --tokens-file.
//   REST (--http-listen) on a non-loopback address: the REST admin speaks plain HTTP, so it needs
//     --insecure (and should have --tokens-file).
//
// A refusal names the listener, the address and the flags to set.
#ifndef VALET_CONTROLPLANE_LISTEN_POLICY_H_
#define VALET_CONTROLPLANE_LISTEN_POLICY_H_

#include <string>

#include "absl/status/status.h"

namespace valet {

struct ListenSecurity {
  std::string grpc_listen;
  std::string http_listen;  // Empty: no REST admin.
  bool tls = false;         // --tls-cert and --tls-key given.
  bool tokens = false;      // --tokens-file given.
  bool insecure = false;    // --insecure.
};

// OK, or FailedPrecondition saying what to set (InvalidArgument for an unparsable address).
absl::Status CheckListenPolicy(const ListenSecurity& s);

// True if some listener is beyond loopback without the protection CheckListenPolicy asks for
// (allowed only with --insecure); `what` then says which, for the warning.
bool ExposedWithoutProtection(const ListenSecurity& s, std::string* what);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_LISTEN_POLICY_H_
