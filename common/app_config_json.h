// The JSON form of an app config (conf/apps/NAME.json), both ways.
//
// Parsing is strict: unknown fields, wrong types, fractions or negatives where a count is expected
// are errors, because a typo must never silently disable auth. Every error names the source (a file
// name or "request"), the JSON path and the reason, never the value (it may be a misplaced
// secret), e.g.
//   conf/apps/userauth.json: endpoints[1].port: expected a number, got a string
// Parsing checks form only; ValidateAppConfig (app_config_validation.h) checks meaning.
// Errors are data too: the status carries them as a list of {file, path, reason}
// (common/validation_errors.h).
//
// This is the one mapping between the JSON form and v1::AppConfig, used by the conf dir, the REST
// admin (GET and PUT), valetctl (apply, validate, -o json) and every control API answer rendered
// as JSON (common/control_answer_json.h). It is driven by the proto's descriptor: a JSON key is
// the field's json_name (auth_key <-> "authKey"), a value is read and written by the field's
// type, so a new config field needs no code here, only a row in the table of special fields
// (app_config_json.cc) if it is a seed key, has a range of its own or is a list with a limit.
#ifndef VALET_COMMON_APP_CONFIG_JSON_H_
#define VALET_COMMON_APP_CONFIG_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "valet/v1/config.pb.h"

namespace valet {

// Parses one app config. `source` prefixes every error message.
absl::StatusOr<v1::AppConfig> ParseAppConfigJson(std::string_view text, std::string_view source);

// Renders an app config in the conf-file form (the proto's field order, 4-space indent).
// Fields at their zero ("default") value are left out, except the seed's own keys. What it writes
// ParseAppConfigJson reads back to the same AppConfig.
std::string AppConfigToJson(const v1::AppConfig& app);

}  // namespace valet

#endif  // VALET_COMMON_APP_CONFIG_JSON_H_
