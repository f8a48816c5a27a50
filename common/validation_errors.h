// Validation errors as data: a refused config travels as a list of {file, JSON path, reason}
// (v1::ValidationError), never as text that a client parses back.
//
// Inside a program the list rides on the absl::Status (INVALID_ARGUMENT) as a payload; the
// status message holds the same errors as lines for logs. Across gRPC the list is a detail of the
// status (grpc-status-details-bin holding a google.rpc.Status, v1::Status here); the REST admin
// and valetctl render the list.
#ifndef VALET_COMMON_VALIDATION_ERRORS_H_
#define VALET_COMMON_VALIDATION_ERRORS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "valet/v1/errors.pb.h"

namespace valet {

// The type URL of the payload (and of the gRPC detail) carrying a v1::ValidationErrors.
inline constexpr std::string_view kValidationErrorsTypeUrl =
    "type.googleapis.com/valet.v1.ValidationErrors";

v1::ValidationError MakeValidationError(std::string_view file, std::string_view path,
                                        std::string_view reason);

// "FILE: PATH: REASON" ("FILE: REASON" when the path is empty, "PATH: REASON" without a file).
std::string FormatValidationError(const v1::ValidationError& error);

// INVALID_ARGUMENT whose message is one FormatValidationError line per error and whose payload
// is the list. OK for an empty list.
absl::Status ValidationFailed(const std::vector<v1::ValidationError>& errors);

// The list a status carries. A failed status without one yields a single error whose reason is
// the message (so every failure renders as a list); OK yields none.
std::vector<v1::ValidationError> ValidationErrorsOf(const absl::Status& status);

// True if `status` carries a validation error list.
bool HasValidationErrors(const absl::Status& status);

// A gRPC status's binary details (google.rpc.Status wire form) for `status`: the code, the
// message and the validation errors, if any. Empty when there is nothing to add to the code and
// message.
std::string GrpcStatusDetails(const absl::Status& status);

// The inverse, for a gRPC client: the absl::Status of a call's code, message and binary details,
// with the validation errors as payload when the details hold them.
absl::Status StatusFromGrpc(int code, std::string_view message, std::string_view details);

}  // namespace valet

#endif  // VALET_COMMON_VALIDATION_ERRORS_H_
