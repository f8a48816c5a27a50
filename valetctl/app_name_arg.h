// The NAME argument of `apps get` and `delete`, checked before anything is sent: a name no app
// can have is a usage error, not a call (a 10,000-character name would otherwise exceed gRPC's
// metadata limits and fail with a transport error instead of "no such app").
#ifndef VALET_VALETCTL_APP_NAME_ARG_H_
#define VALET_VALETCTL_APP_NAME_ARG_H_

#include <ostream>
#include <string>
#include <string_view>

namespace valet::ctl {

// True if `name` can be an app's name (common's IsValidAppName). Otherwise prints
// "error: WHAT: "NAME" is not a valid app name ..." to `err` (the name shortened and escaped so
// that the line stays short and printable) and returns false: exit kExitUsage.
bool CheckAppNameArg(std::string_view what, std::string_view name, std::ostream& err);

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_APP_NAME_ARG_H_
