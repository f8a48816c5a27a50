#include "controlplane/access_table.h"

#include <utility>

namespace valet {
namespace {

constexpr std::pair<std::string_view, TokenRole> kGrpcMethods[] = {
    {"/valet.v1.ControlService/ListApps", TokenRole::kRead},
    {"/valet.v1.ControlService/GetApp", TokenRole::kRead},
    {"/valet.v1.ControlService/GetVersion", TokenRole::kRead},
    {"/valet.v1.ControlService/ListDataPlanes", TokenRole::kRead},
    {"/valet.v1.ControlService/WatchVersions", TokenRole::kRead},
    {"/valet.v1.ControlService/WaitForVersion", TokenRole::kRead},
    {"/valet.v1.ControlService/GetLimits", TokenRole::kRead},
    {"/valet.v1.ControlService/ApplyApps", TokenRole::kAdmin},
    {"/valet.v1.ControlService/DeleteApp", TokenRole::kAdmin},
    {"/valet.v1.ControlService/Reload", TokenRole::kAdmin},
    {"/valet.v1.ControlService/SetMockMode", TokenRole::kAdmin},
    {"/valet.v1.ControlService/RecordMocks", TokenRole::kAdmin},
    // It changes nothing, but it takes whole configs and runs the validator on them: an
    // operator's call, not a dashboard's.
    {"/valet.v1.ControlService/Validate", TokenRole::kAdmin},
    {"/valet.v1.AttachService/Attach", TokenRole::kDataplane},
};

}  // namespace

TokenRole RoleForGrpcMethod(std::string_view method) {
  for (const auto& [name, role] : kGrpcMethods) {
    if (name == method) return role;
  }
  return TokenRole::kAdmin;  // Closed by default: a call nobody placed needs the most.
}

TokenRole RoleForRestRoute(std::string_view method, std::string_view /*path*/) {
  // Every GET (and HEAD) of the REST admin only looks; the rest changes something.
  return method == "GET" || method == "HEAD" ? TokenRole::kRead : TokenRole::kAdmin;
}

}  // namespace valet
