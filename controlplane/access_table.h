// The role each call of the control plane needs: one table for the gRPC API and one rule for the
// REST admin, so that a new call is placed in one spot.
//
//   role       gRPC (valet.v1.ControlService unless said)          REST admin
//   read       ListApps GetApp GetVersion ListDataPlanes           GET/HEAD of every route
//              WatchVersions WaitForVersion
//   admin      ApplyApps DeleteApp Reload Validate, and any call   PUT, DELETE, POST
//              this table does not name
//   dataplane  valet.v1.AttachService/Attach                       none
//
// An admin token may make every call (common/tokens_file.h).
#ifndef VALET_CONTROLPLANE_ACCESS_TABLE_H_
#define VALET_CONTROLPLANE_ACCESS_TABLE_H_

#include <string_view>

#include "common/tokens_file.h"

namespace valet {

// `method` is the full gRPC method name, "/valet.v1.ControlService/ListApps".
TokenRole RoleForGrpcMethod(std::string_view method);

// `method` is the HTTP method, `path` the request path without the query.
TokenRole RoleForRestRoute(std::string_view method, std::string_view path);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_ACCESS_TABLE_H_
