#include "controlplane/rest_auth.h"

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "controlplane/access_table.h"

namespace valet {

std::optional<AdminResponse> RefuseRestRequest(const TokenAuth& tokens,
                                               const AdminRequest& request) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  const TokenRole need = RoleForRestRoute(request.method, path);
  AuthResult result = tokens.Check(request.authorization, need,
                                   absl::StrCat(request.method, " ", std::string(path)));
  if (result.status.ok()) return std::nullopt;
  const bool unauthenticated = result.status.code() == absl::StatusCode::kUnauthenticated;
  const int status = unauthenticated ? 401 : 403;
  // The path is bounded in the log line: the admin server takes targets up to 8 KiB.
  constexpr size_t kMaxLoggedPath = 128;
  VALET_LOG(WARNING) << "refused " << request.method << " " << path.substr(0, kMaxLoggedPath)
                     << " ("
                     << (result.token_name.empty() ? std::string("no valid token")
                                                   : "token " + result.token_name)
                     << "): " << result.status.message();
  nlohmann::ordered_json j = {{"error",
                               {{"status", status},
                                {"code", unauthenticated ? "UNAUTHENTICATED" : "PERMISSION_DENIED"},
                                {"message", std::string(result.status.message())}}}};
  return AdminResponse{
      status, j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"};
}

}  // namespace valet
