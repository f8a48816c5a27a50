// The one JSON shape of every error Valet answers over HTTP, from the gateway (dataplane/
// gateway_error.h), the REST admin (controlplane/rest_admin.h) and the admin servers alike:
//   {"error": {"status": 400, "code": "invalid_argument", "message": "...",
//              "app": "shop", "details": [{"file": "...", "path": "...", "reason": "..."}]}}
// `code` is snake_case and stable (scripts switch on it); `message` is for people; "app" and
// "details" appear only when there is something to say.
#ifndef VALET_COMMON_ERROR_BODY_H_
#define VALET_COMMON_ERROR_BODY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "valet/v1/errors.pb.h"

namespace valet {

struct ErrorBody {
  int status = 500;      // The HTTP status.
  std::string code;      // snake_case: "unknown_app", "invalid_argument", ...
  std::string message;   // For people.
  std::string app = {};  // The app the request named, if any.
  std::vector<v1::ValidationError> details = {};  // Each problem of a refused config.
};

// The body, one line and a newline. Invalid UTF-8 in any text is replaced, never refused.
std::string RenderErrorBody(const ErrorBody& error);

// The snake_case code of a canonical status code: kInvalidArgument -> "invalid_argument".
std::string ErrorCodeName(absl::StatusCode code);

}  // namespace valet

#endif  // VALET_COMMON_ERROR_BODY_H_
