#include "common/error_body.h"

#include "absl/strings/ascii.h"
#include "nlohmann/json.hpp"

namespace valet {

std::string RenderErrorBody(const ErrorBody& error) {
  nlohmann::ordered_json e;
  e["status"] = error.status;
  e["code"] = error.code;
  e["message"] = error.message;
  if (!error.app.empty()) e["app"] = error.app;
  if (!error.details.empty()) {
    nlohmann::ordered_json details = nlohmann::ordered_json::array();
    for (const v1::ValidationError& d : error.details) {
      details.push_back({{"file", d.file()}, {"path", d.path()}, {"reason", d.reason()}});
    }
    e["details"] = std::move(details);
  }
  nlohmann::ordered_json body;
  body["error"] = std::move(e);
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string ErrorCodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  if (name.empty()) return "unknown";
  return absl::AsciiStrToLower(name);
}

}  // namespace valet
