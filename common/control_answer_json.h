// Control API answers (ListAppsResponse, WaitForVersionResponse, ...) as JSON, for the REST admin
// and `valetctl -o json`: protobuf's JSON mapping for the envelope (camelCase names, uint64 as
// strings, timestamps in RFC 3339), and the one app config mapping (common/app_config_json.h) for
// every AppConfig inside it, so an app reads the same in a file, a REST answer and valetctl's
// output, and each of them can be applied unchanged.
#ifndef VALET_COMMON_CONTROL_ANSWER_JSON_H_
#define VALET_COMMON_CONTROL_ANSWER_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace valet {

struct AnswerJsonOptions {
  bool pretty = true;              // Indented (1 space, as protobuf does); else one line.
  bool print_zero_fields = false;  // Envelope fields at their zero value are written too.
};

// `message` as JSON with a trailing newline. An AppConfig itself, pretty, is written exactly as
// its conf file (AppConfigToJson). Fails only for a message protobuf cannot map (an unresolvable
// Any).
absl::StatusOr<std::string> ControlAnswerToJson(const google::protobuf::Message& message,
                                                const AnswerJsonOptions& options);

}  // namespace valet

#endif  // VALET_COMMON_CONTROL_ANSWER_JSON_H_
