// The JSON form of an app config (conf/apps/NAME.json), both ways.
//
// Parsing is strict: unknown fields, wrong types, fractions or negatives where a count is expected
// are errors, because a typo must never silently disable auth. Every error names the source (a file
// name or "request"), the JSON path and the reason, never the value (it may be a misplaced
// secret), e.g.
//   conf/apps/userauth.json: endpoints[1].port: expected a number, got a string
// Parsing checks form only; ValidateAppConfig (app_config_validation.h) checks meaning.
#ifndef VALET_COMMON_APP_CONFIG_JSON_H_
#define VALET_COMMON_APP_CONFIG_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "valet/v1/config.pb.h"

namespace valet {

// Parses one app config. `source` prefixes every error message.
absl::StatusOr<v1::AppConfig> ParseAppConfigJson(std::string_view text, std::string_view source);

// Renders an app config in the conf-file form (seed key names and order, 4-space indent).
// Fields at their zero ("default") value are left out, except the seed's own keys.
std::string AppConfigToJson(const v1::AppConfig& app);

}  // namespace valet

#endif  // VALET_COMMON_APP_CONFIG_JSON_H_
