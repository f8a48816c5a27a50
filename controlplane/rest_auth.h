// The token check of the REST admin: the same tokens, roles and answers as the gRPC API
// (controlplane/call_auth.h), as HTTP: no token or an unknown one 401 (the JSON error says to send
// `authorization: Bearer TOKEN`), a role that may not make the call 403. Both are logged with the
// method, the path and the token's name, never the token.
//
// Threading: any thread; TokenAuth reloads are safe meanwhile.
#ifndef VALET_CONTROLPLANE_REST_AUTH_H_
#define VALET_CONTROLPLANE_REST_AUTH_H_

#include <optional>

#include "common/admin_http_server.h"
#include "common/token_auth.h"

namespace valet {

// nullopt if `request` may go on; else the answer that refuses it.
std::optional<AdminResponse> RefuseRestRequest(const TokenAuth& tokens,
                                               const AdminRequest& request);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_REST_AUTH_H_
