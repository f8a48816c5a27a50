#include "common/validation_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/string_view.h"

namespace valet {
namespace {

bool ParseList(std::string_view bytes, v1::ValidationErrors* list) {
  return list->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

v1::ValidationError MakeValidationError(std::string_view file, std::string_view path,
                                        std::string_view reason) {
  v1::ValidationError e;
  e.set_file(std::string(file));
  e.set_path(std::string(path));
  e.set_reason(std::string(reason));
  return e;
}

std::string FormatValidationError(const v1::ValidationError& error) {
  std::string out;
  if (!error.file().empty()) absl::StrAppend(&out, error.file(), ": ");
  if (!error.path().empty()) absl::StrAppend(&out, error.path(), ": ");
  absl::StrAppend(&out, error.reason());
  return out;
}

absl::Status ValidationFailed(const std::vector<v1::ValidationError>& errors) {
  if (errors.empty()) return absl::OkStatus();
  v1::ValidationErrors list;
  std::vector<std::string> lines;
  for (const v1::ValidationError& e : errors) {
    *list.add_errors() = e;
    lines.push_back(FormatValidationError(e));
  }
  absl::Status status = absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  status.SetPayload(AsAbsl(kValidationErrorsTypeUrl), absl::Cord(list.SerializeAsString()));
  return status;
}

bool HasValidationErrors(const absl::Status& status) {
  return status.GetPayload(AsAbsl(kValidationErrorsTypeUrl)).has_value();
}

std::vector<v1::ValidationError> ValidationErrorsOf(const absl::Status& status) {
  std::vector<v1::ValidationError> out;
  if (status.ok()) return out;
  auto payload = status.GetPayload(AsAbsl(kValidationErrorsTypeUrl));
  v1::ValidationErrors list;
  if (payload.has_value() && ParseList(std::string(*payload), &list) && list.errors_size() > 0) {
    out.assign(list.errors().begin(), list.errors().end());
    return out;
  }
  std::string message(status.message());
  if (message.empty()) message = absl::StatusCodeToString(status.code());
  out.push_back(MakeValidationError("", "", message));
  return out;
}

std::string GrpcStatusDetails(const absl::Status& status) {
  auto payload = status.GetPayload(AsAbsl(kValidationErrorsTypeUrl));
  if (status.ok() || !payload.has_value()) return std::string();
  v1::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(std::string(status.message()));
  google::protobuf::Any* any = details.add_details();
  any->set_type_url(std::string(kValidationErrorsTypeUrl));
  any->set_value(std::string(*payload));
  return details.SerializeAsString();
}

absl::Status StatusFromGrpc(int code, std::string_view message, std::string_view details) {
  absl::Status status(static_cast<absl::StatusCode>(code), AsAbsl(message));
  if (status.ok() || details.empty()) return status;
  v1::Status parsed;
  if (!parsed.ParseFromArray(details.data(), static_cast<int>(details.size()))) return status;
  for (const google::protobuf::Any& any : parsed.details()) {
    v1::ValidationErrors list;
    if (any.type_url() == kValidationErrorsTypeUrl && ParseList(any.value(), &list)) {
      status.SetPayload(AsAbsl(kValidationErrorsTypeUrl), absl::Cord(any.value()));
    }
  }
  return status;
}

}  // namespace valet
