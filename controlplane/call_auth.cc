#include "controlplane/call_auth.h"

#include <string>

#include "common/logging.h"
#include "controlplane/access_table.h"
#include "grpcpp/security/auth_context.h"

namespace valet {

grpc::Status CallAuthorizer::Authorize(const grpc::CallbackServerContext& context,
                                       std::string_view method) const {
  if (tokens_ == nullptr) return grpc::Status::OK;
  const TokenRole need = RoleForGrpcMethod(method);
  if (need == TokenRole::kDataplane && client_certs_for_dataplanes_) {
    std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    // Set only when the handshake verified the client's certificate against --tls-client-ca.
    if (auth != nullptr && auth->IsPeerAuthenticated()) return grpc::Status::OK;
  }
  std::string_view authorization;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  std::string_view short_name = method.substr(method.rfind('/') + 1);
  AuthResult result = tokens_->Check(authorization, need, short_name);
  if (result.status.ok()) return grpc::Status::OK;
  VALET_LOG(WARNING) << "refused " << method << " from " << context.peer() << " ("
                     << (result.token_name.empty() ? std::string("no valid token")
                                                   : "token " + result.token_name)
                     << "): " << result.status.message();
  return grpc::Status(static_cast<grpc::StatusCode>(result.status.code()),
                      std::string(result.status.message()));
}

}  // namespace valet
