#include "common/control_answer_json.h"

#include "common/app_config_json.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "valet/v1/config.pb.h"

namespace valet {
namespace {

using Json = nlohmann::ordered_json;
using google::protobuf::FieldDescriptor;

Json AppJson(const google::protobuf::Message& app) {
  // Our own output: it parses.
  return Json::parse(AppConfigToJson(static_cast<const v1::AppConfig&>(app)), nullptr, false);
}

bool IsAppConfig(const google::protobuf::Descriptor* d) { return d == v1::AppConfig::descriptor(); }

// Replaces, in `json` (protobuf's mapping of `message`), every AppConfig field by the app config
// mapping, and recurses into the other message fields.
void MapApps(const google::protobuf::Message& message, Json* json) {
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || field->is_map()) continue;
    const std::string& key = field->json_name();
    if (field->is_repeated()) {
      int n = r->FieldSize(message, field);
      if (IsAppConfig(field->message_type())) {
        Json list = Json::array();
        for (int e = 0; e < n; ++e)
          list.push_back(AppJson(r->GetRepeatedMessage(message, field, e)));
        (*json)[key] = std::move(list);  // Always present, even empty: scripts index it.
        continue;
      }
      auto it = json->find(key);
      if (it == json->end() || !it->is_array()) continue;
      for (int e = 0; e < n && e < static_cast<int>(it->size()); ++e) {
        MapApps(r->GetRepeatedMessage(message, field, e), &(*it)[e]);
      }
    } else if (r->HasField(message, field)) {
      if (IsAppConfig(field->message_type())) {
        (*json)[key] = AppJson(r->GetMessage(message, field));
        continue;
      }
      auto it = json->find(key);
      if (it != json->end() && it->is_object()) MapApps(r->GetMessage(message, field), &*it);
    }
  }
}

}  // namespace

absl::StatusOr<std::string> ControlAnswerToJson(const google::protobuf::Message& message,
                                                const AnswerJsonOptions& options) {
  Json json;
  if (IsAppConfig(message.GetDescriptor())) {
    // Pretty, byte for byte the conf file the app would be written to.
    if (options.pretty) return AppConfigToJson(static_cast<const v1::AppConfig&>(message));
    json = AppJson(message);
  } else {
    google::protobuf::util::JsonPrintOptions print;
    print.always_print_primitive_fields = options.print_zero_fields;
    std::string text;
    google::protobuf::util::Status status =
        google::protobuf::util::MessageToJsonString(message, &text, print);
    if (!status.ok()) return absl::InternalError(status.message().as_string());
    json = Json::parse(text, nullptr, false);
    MapApps(message, &json);
  }
  return json.dump(options.pretty ? 1 : -1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace valet
