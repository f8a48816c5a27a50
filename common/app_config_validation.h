// Semantic checks of app configs: what a parsed config must mean to be served.
#ifndef VALET_COMMON_APP_CONFIG_VALIDATION_H_
#define VALET_COMMON_APP_CONFIG_VALIDATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "valet/v1/config.pb.h"

namespace valet {

// Returns every problem of one app, each "SOURCE: JSON.PATH: reason". Empty when valid.
std::vector<std::string> ValidateAppConfig(const v1::AppConfig& app, std::string_view source);

// An app with the place it came from (a file path, "request", ...), for error messages.
struct SourcedApp {
  v1::AppConfig app;
  std::string source;
};

// Validates a whole set: each app, plus duplicate names across the set.
// InvalidArgument with one error per line, or OK.
absl::Status ValidateAppSet(const std::vector<SourcedApp>& apps);

// True if `name` can be an app name: the first path segment of a request, and a conf file
// name (NAME.json). 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.'.
bool IsValidAppName(std::string_view name);

}  // namespace valet

#endif  // VALET_COMMON_APP_CONFIG_VALIDATION_H_
