// CallAuthorizer: the token check of every gRPC call of the control plane.
//
// Each handler asks Authorize first, with its full method name; the role the call needs comes
// from controlplane/access_table.h. Without tokens (loopback, or --insecure) every call passes.
// With tokens, the caller sends `authorization: Bearer TOKEN`: none or an unknown one is
// UNAUTHENTICATED, a listed token whose role may not make the call PERMISSION_DENIED; both are
// logged (WARNING) with the peer, the method and the token's name, never the token. With
// `client_certs_for_dataplanes` (mTLS), a client certificate that the TLS handshake verified
// against --tls-client-ca may stand in for a dataplane token.
//
// gRPC's server interceptors cannot refuse a call before its handler runs, and an
// AuthMetadataProcessor runs only on TLS ports: hence a check in the handlers.
//
// Threading: Authorize is called from gRPC's threads, concurrently; TokenAuth reloads are safe
// meanwhile. Lifetime: `tokens` (may be null) outlives the authorizer.
#ifndef VALET_CONTROLPLANE_CALL_AUTH_H_
#define VALET_CONTROLPLANE_CALL_AUTH_H_

#include <string_view>

#include "common/token_auth.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace valet {

class CallAuthorizer {
 public:
  CallAuthorizer(const TokenAuth* tokens, bool client_certs_for_dataplanes)
      : tokens_(tokens), client_certs_for_dataplanes_(client_certs_for_dataplanes) {}

  // OK, or the status to finish the call with. `method`: "/valet.v1.ControlService/ListApps".
  grpc::Status Authorize(const grpc::CallbackServerContext& context, std::string_view method) const;

 private:
  const TokenAuth* const tokens_;
  const bool client_certs_for_dataplanes_;
};

// Authorize with a null authorizer passing everything (in-process servers built without one).
inline grpc::Status AuthorizeCall(const CallAuthorizer* auth,
                                  const grpc::CallbackServerContext& context,
                                  std::string_view method) {
  return auth == nullptr ? grpc::Status::OK : auth->Authorize(context, method);
}

// Reactors that finish a refused streaming call at once and delete themselves.
template <typename Response>
class RefusedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class RefusedBidiReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidiReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_CALL_AUTH_H_
