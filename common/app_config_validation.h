// Semantic checks of app configs: what a parsed config must mean to be served.
#ifndef VALET_COMMON_APP_CONFIG_VALIDATION_H_
#define VALET_COMMON_APP_CONFIG_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/app_config_defaults.h"
#include "common/message_limits.h"
#include "valet/v1/config.pb.h"
#include "valet/v1/errors.pb.h"

namespace valet {

// The values a numeric field accepts (0 is "the default" where the field has one). Parsing and
// validation word every refusal of a number the same way, "FIELD: must be LO..HI" (RangeError),
// whether it came from JSON (negative, fraction, 1e400, 2^64) or from a gRPC request.
struct NumericRange {
  uint32_t lo;
  uint32_t hi;
  std::string_view note;  // Appended to the range, e.g. " (one hour)".
};
inline constexpr uint32_t kMaxLimitPeriodSeconds = 86400 * 366;
inline constexpr NumericRange kPortRange = {1, 65535, ""};
inline constexpr NumericRange kWeightRange = {0, kMaxEndpointWeight, ""};
inline constexpr NumericRange kLimitValueRange = {0, std::numeric_limits<uint32_t>::max(), ""};
inline constexpr NumericRange kLimitPeriodSecondsRange = {0, kMaxLimitPeriodSeconds, " (one year)"};
inline constexpr NumericRange kTimeoutMsRange = {0, kMaxTimeoutMs, " (one hour)"};
inline constexpr NumericRange kMockStatusRange = {100, 599, ""};  // 0: the default, 200.
inline constexpr NumericRange kMockDelayMsRange = {0, kMaxMockDelayMs, " (30 seconds)"};

// "must be LO..HI" plus the range's note.
std::string RangeError(const NumericRange& range);

// "must be at most kMaxEndpointsPerApp endpoints, got COUNT": parsing refuses such an array
// before reading it, validation refuses such a request.
std::string TooManyEndpointsError(size_t count);

// "must be at most kMaxConsumersPerApp consumers, got COUNT", the same way.
std::string TooManyConsumersError(size_t count);
// "must be at most kMaxMocksPerApp mocks, got COUNT", for parsing and validation alike.
std::string TooManyMocksError(size_t count);

// Whether a key may be a redacted value ("<redacted sha256:...>", common/secret_redaction.h).
// Only a client about to send the config to the control plane allows them (valetctl apply): the
// control plane replaces each by the stored key it stands for, or refuses it. Everywhere a config
// is stored or served they are refused.
enum class RedactedKeys { kRefused, kAllowed };
// The same for a fan-out app's routes, and for a route's backends.
std::string TooManyRoutesError(size_t count);
std::string TooManyBackendsError(size_t count);

// Returns every problem of one app, each naming SOURCE and the JSON path. Empty when valid.
std::vector<v1::ValidationError> ValidateAppConfig(const v1::AppConfig& app,
                                                   std::string_view source,
                                                   RedactedKeys redacted = RedactedKeys::kRefused);

// An app with the place it came from (a file path, "request", ...), for error messages.
struct SourcedApp {
  v1::AppConfig app;
  std::string source;
};

// Validates a whole set: each app, plus duplicate names across the set.
// InvalidArgument carrying the list (common/validation_errors.h), one error per line of its
// message, or OK.
absl::Status ValidateAppSet(const std::vector<SourcedApp>& apps,
                            RedactedKeys redacted = RedactedKeys::kRefused);

// True if `name` can be an app name: the first path segment of a request, and a conf file
// name (NAME.json). 1 to 64 of A-Z a-z 0-9 . _ -, at least one letter or digit, not starting
// with '.'.
bool IsValidAppName(std::string_view name);

}  // namespace valet

#endif  // VALET_COMMON_APP_CONFIG_VALIDATION_H_
