#include "common/app_config_json.h"

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_validation.h"
#include "common/error_text.h"
#include "common/message_limits.h"
#include "common/route_syntax.h"
#include "common/string_view.h"
#include "common/validation_errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

using Json = nlohmann::json;

// A hostile file can hold a million unknown keys; its error stays readable and small.
constexpr size_t kMaxErrorsPerFile = 100;

// Errors of one file, up to kMaxErrorsPerFile; the rest are counted.
class ErrorList {
 public:
  void Add(std::string path, std::string reason) {
    if (errors_.size() < kMaxErrorsPerFile) {
      errors_.push_back({std::move(path), std::move(reason)});
    } else {
      ++dropped_;
    }
  }
  bool empty() const { return errors_.empty(); }

  // One error per entry, each naming `source`, and a last one counting those left out.
  absl::Status ToStatus(std::string_view source) const {
    std::vector<v1::ValidationError> errors;
    for (const auto& [path, reason] : errors_) {
      errors.push_back(MakeValidationError(source, path, reason));
    }
    if (dropped_ > 0) {
      errors.push_back(MakeValidationError(
          source, "",
          absl::StrCat(dropped_, " more error", dropped_ == 1 ? "" : "s", " not shown")));
    }
    return ValidationFailed(errors);
  }

 private:
  std::vector<std::pair<std::string, std::string>> errors_;
  size_t dropped_ = 0;
};

// A key as it appears in a JSON path or an unknown-field error: bounded and escaped. Plain keys
// are shown bare (endpoints[0].port); anything else quoted.
std::string KeyForError(std::string_view key) {
  bool plain = !key.empty() && key.size() <= kMaxQuotedBytes;
  for (char c : key) {
    unsigned char u = static_cast<unsigned char>(c);
    // Bytes >= 0x80 (UTF-8, validated by the lexer) are printable; control bytes, quotes,
    // backslashes and the path's own punctuation are not plain.
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\' || c == '.' || c == '[' || c == ']' ||
        c == ' ') {
      plain = false;
    }
  }
  return plain ? std::string(key) : QuoteForError(key);
}

// What a value is, for "expected X, got Y" errors. Only the JSON type, never the value: the value
// may be a secret typed into the wrong place, or a document of any size.
const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "true or false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    default:
      return "a value";
  }
}

// 1-based line and column of the byte at `offset` (text.size() for the end of input).
std::string LineColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
  size_t line_start = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
  size_t column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
  return absl::StrCat("line ", line, ", column ", column);
}

// The offset of the bracket that opens the (kMaxJsonDepth + 1)th nested array or object, or
// text.size(). Called once the parser has refused that bracket, so the text before it is valid
// JSON and a plain scan that skips strings finds it.
size_t OffsetOfTooDeep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // The escaped character cannot end the string.
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return text.size();
}

// Builds the DOM like nlohmann's own parser, without exceptions, and records what the library
// would not tell us:
// - every key that appears twice in one object (nlohmann keeps the last one silently, so
//   `"authorize": true, ..., "authorize": false` would quietly turn auth off);
// - the JSON path of the value being read, for errors;
// - nesting deeper than kMaxJsonDepth, refused as it is read: a config needs three levels, and
//   nothing downstream has to bound a deeper one;
// - a syntax error, without the bytes the library quotes after "last read:" (a half-written
//   authKey would reach REST answers and logs);
// - a number too large for a double (1e400), which the library treats as an error that stops the
//   parse: the reader then sees the largest double in its place and says what the field accepts.
class RecordingDomParser : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
  enum class Stop { kNone, kSyntax, kTooDeep, kNumberOverflow };

  explicit RecordingDomParser(Json& root) : Base(root, /*allow_exceptions=*/false) {}

  bool null() {
    BeginValue();
    return Base::null();
  }
  bool boolean(bool v) {
    BeginValue();
    return Base::boolean(v);
  }
  bool number_integer(Json::number_integer_t v) {
    BeginValue();
    return Base::number_integer(v);
  }
  bool number_unsigned(Json::number_unsigned_t v) {
    BeginValue();
    return Base::number_unsigned(v);
  }
  bool number_float(Json::number_float_t v, const std::string& s) {
    BeginValue();
    return Base::number_float(v, s);
  }
  bool string(std::string& v) {
    BeginValue();
    return Base::string(v);
  }
  bool binary(Json::binary_t& v) {
    BeginValue();
    return Base::binary(v);
  }

  bool start_object(std::size_t len) {
    BeginValue();
    if (!Enter()) return false;
    frames_.push_back(Frame{/*is_object=*/true});
    return Base::start_object(len);
  }
  bool key(std::string& k) {
    Frame& f = frames_.back();
    f.key = k;
    f.value_pending = true;
    if (!f.keys.insert(k).second) {
      duplicates_.Add(Path(), absl::StrCat("duplicate field ", QuoteForError(k)));
    }
    return Base::key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return Base::end_object();
  }
  bool start_array(std::size_t len) {
    BeginValue();
    if (!Enter()) return false;
    frames_.push_back(Frame{/*is_object=*/false});
    return Base::start_array(len);
  }
  bool end_array() {
    frames_.pop_back();
    return Base::end_array();
  }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    // out_of_range.406: "number overflow parsing '1e400'". The value's place is known: give it a
    // number no field accepts, so the reader reports the field, and stop there.
    if (ex.id == 406) {
      stop_ = Stop::kNumberOverflow;
      number_float(std::numeric_limits<double>::max(), std::string());
      return false;
    }
    stop_ = Stop::kSyntax;
    // position counts the characters read, the offending one included (the end of input counts
    // as one).
    offset_ = position == 0 ? 0 : position - 1;
    error_path_ = PathOfError();
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." ->
    // "syntax error ..." (the position is ours, 1-based, with the JSON path).
    size_t start = what.find("syntax error");
    reason_ = start == std::string::npos ? "syntax error" : what.substr(start);
    // The token the lexer was reading ("; last read: '...'") is input: drop it.
    std::string quoted = absl::StrCat("; last read: '", last_token, "'");
    if (size_t at = reason_.find(quoted); at != std::string::npos) reason_.erase(at, quoted.size());
    return false;
  }

  Stop stop() const { return stop_; }
  // kSyntax: the offset of the offending character (text.size() at the end of input).
  size_t offset() const { return offset_; }
  // kSyntax: the library's reason without input bytes; kTooDeep: ours.
  const std::string& reason() const { return reason_; }
  // kSyntax, kTooDeep: the JSON path where reading stopped ("" at the top level).
  const std::string& error_path() const { return error_path_; }
  // PATH, "duplicate field \"KEY\"" for every repeated key, in document order.
  const ErrorList& duplicates() const { return duplicates_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys = {};  // Objects: the keys seen so far.
    std::string key = {};             // Objects: the last key read.
    bool value_pending = false;       // Objects: the value of `key` has not been read yet.
    size_t next_index = 0;            // Arrays: the number of elements begun so far.
  };

  // Counts array elements so a path can name them; notes that an object's value has begun.
  void BeginValue() {
    if (frames_.empty()) return;
    Frame& f = frames_.back();
    if (f.is_object) {
      f.value_pending = false;
    } else {
      ++f.next_index;
    }
  }

  // Refuses to open one more array or object beyond kMaxJsonDepth.
  bool Enter() {
    if (frames_.size() < kMaxJsonDepth) return true;
    stop_ = Stop::kTooDeep;
    error_path_ = Path();
    reason_ = absl::StrCat("more than ", kMaxJsonDepth, " levels of arrays and objects");
    return false;
  }

  // Appends frame `f`'s own segment: its key, or its element `index`.
  static void AppendSegment(const Frame& f, size_t index, std::string* path) {
    if (f.is_object) {
      if (!path->empty()) *path += '.';
      *path += KeyForError(f.key);
    } else {
      absl::StrAppend(path, "[", index, "]");
    }
  }

  // The JSON path of the value just begun (or of the key just read), e.g. "endpoints[1].port".
  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_) AppendSegment(f, f.next_index - 1, &path);
    return path;
  }

  // The JSON path where the parser stopped: the value of an object's last key while that value
  // is being read, else the innermost array or object itself. (Inside an array the parser does not
  // say whether it wanted an element or a comma, so no index is named.)
  std::string PathOfError() const {
    std::string path;
    for (size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      bool innermost = i + 1 == frames_.size();
      if (!innermost || f.value_pending) AppendSegment(f, f.next_index - 1, &path);
    }
    return path;
  }

  Stop stop_ = Stop::kNone;
  size_t offset_ = 0;
  std::string reason_;
  std::string error_path_;
  std::vector<Frame> frames_;
  ErrorList duplicates_;
};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub =
          prev[j - 1] + (absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// The one table of config fields that need more than the generic mapping (JSON key = the proto
// field's json_name, the value by the field's type). A new field needs a row here only if it
// is one of the seed's own keys, a number whose refusal names a range of its own, or a list with
// a limit of its own.
struct FieldRule {
  std::string_view field;               // The proto field's full name.
  bool always_written = false;          // Written even at its zero value: the seed's own keys.
  const NumericRange* range = nullptr;  // Numbers: the range a refusal names (validation checks).
  size_t max_elements = 0;              // Lists: 0 means kMaxJsonArrayElements.
  std::string (*too_many)(size_t count) = nullptr;  // Lists: the error past max_elements.
  bool raw_json = false;  // A string field holding any JSON value as its compact text.
};

const FieldRule kFieldRules[] = {
    {"valet.v1.AppConfig.name", true},
    {"valet.v1.AppConfig.description", true},
    {"valet.v1.AppConfig.authorize", true},
    {"valet.v1.AppConfig.auth_key", true},
    {"valet.v1.AppConfig.auth_header", true},
    {"valet.v1.AppConfig.rate_limit", true},
    {"valet.v1.AppConfig.limit_value", true, &kLimitValueRange},
    {"valet.v1.AppConfig.limit_period_seconds", false, &kLimitPeriodSecondsRange},
    {"valet.v1.AppConfig.endpoints", true, nullptr, kMaxEndpointsPerApp, TooManyEndpointsError},
    {"valet.v1.AppConfig.connect_timeout_ms", false, &kTimeoutMsRange},
    {"valet.v1.AppConfig.request_timeout_ms", false, &kTimeoutMsRange},
    {"valet.v1.AppConfig.consumers", false, nullptr, kMaxConsumersPerApp, TooManyConsumersError},
    {"valet.v1.Consumer.limit_value", false, &kLimitValueRange},
    {"valet.v1.Consumer.limit_period_seconds", false, &kLimitPeriodSecondsRange},
    {"valet.v1.Endpoint.host", true},
    {"valet.v1.Endpoint.path", true},
    {"valet.v1.Endpoint.port", true, &kPortRange},
    {"valet.v1.Endpoint.weight", false, &kWeightRange},
    {"valet.v1.AppConfig.mocks", false, nullptr, kMaxMocksPerApp, TooManyMocksError},
    {"valet.v1.Mock.json", false, nullptr, 0, nullptr, /*raw_json=*/true},
    {"valet.v1.AppConfig.routes", false, nullptr, kMaxRoutesPerApp, TooManyRoutesError},
    {"valet.v1.Route.backends", false, nullptr, kMaxBackendsPerRoute, TooManyBackendsError},
    {"valet.v1.RouteBackend.timeout_ms", false, &kTimeoutMsRange},
};

const FieldRule& RuleOf(const FieldDescriptor* field) {
  static const FieldRule kNone{};
  for (const FieldRule& rule : kFieldRules) {
    if (rule.field == field->full_name()) return rule;
  }
  return kNone;
}

std::string ElementsError(size_t max, size_t count) {
  return absl::StrCat("must be at most ", max, " elements, got ", count);
}

// The bounds of an integer field's type, as the doubles a fraction is compared with.
struct TypeBounds {
  double lo;
  double hi;
  bool is_signed;
  uint64_t max;  // The largest value, as unsigned.
  int64_t min;   // The smallest value (0 for unsigned types).
};

TypeBounds BoundsOf(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return {static_cast<double>(std::numeric_limits<int32_t>::min()),
              static_cast<double>(std::numeric_limits<int32_t>::max()), true,
              static_cast<uint64_t>(std::numeric_limits<int32_t>::max()),
              std::numeric_limits<int32_t>::min()};
    case FieldDescriptor::CPPTYPE_INT64:
      return {static_cast<double>(std::numeric_limits<int64_t>::min()),
              static_cast<double>(std::numeric_limits<int64_t>::max()), true,
              static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
              std::numeric_limits<int64_t>::min()};
    case FieldDescriptor::CPPTYPE_UINT64:
      return {0, static_cast<double>(std::numeric_limits<uint64_t>::max()), false,
              std::numeric_limits<uint64_t>::max(), 0};
    default:  // CPPTYPE_UINT32
      return {0, static_cast<double>(std::numeric_limits<uint32_t>::max()), false,
              std::numeric_limits<uint32_t>::max(), 0};
  }
}

// Reads one JSON object into a message, field by field from the message's descriptor, collecting
// errors: first the keys the object may not hold (a misspelt key often explains the errors after
// it), then each field in the proto's order.
class MessageReader {
 public:
  explicit MessageReader(ErrorList* errors) : errors_(errors) {}

  void ReadObject(const Json& obj, const std::string& path, Message* msg) {
    const Descriptor* d = msg->GetDescriptor();
    ReportUnknownFields(obj, path, d);
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* field = d->field(i);
      auto it = obj.find(field->json_name());
      if (it == obj.end() || it->is_null()) continue;  // null means absent.
      std::string field_path = PathOf(path, field->json_name());
      if (!field->is_repeated()) {
        ReadValue(*it, field_path, field, msg);
        continue;
      }
      if (!it->is_array()) {
        errors_->Add(field_path, absl::StrCat("expected an array, got ", TypeName(*it)));
        continue;
      }
      // A list over its limit is not read: the count is the error, and a hostile array costs no
      // more.
      const FieldRule& rule = RuleOf(field);
      size_t max = rule.max_elements != 0 ? rule.max_elements : kMaxJsonArrayElements;
      if (it->size() > max) {
        errors_->Add(field_path, rule.too_many != nullptr ? rule.too_many(it->size())
                                                          : ElementsError(max, it->size()));
        continue;
      }
      for (size_t e = 0; e < it->size(); ++e) {
        ReadValue((*it)[e], absl::StrCat(field_path, "[", e, "]"), field, msg);
      }
    }
  }

 private:
  // Sets a singular field or adds an element to a repeated one.
  void ReadValue(const Json& v, const std::string& path, const FieldDescriptor* field,
                 Message* msg) {
    const Reflection* r = msg->GetReflection();
    bool add = field->is_repeated();
    if (RuleOf(field).raw_json) {
      // Any JSON value, kept as compact text; invalid UTF-8 was refused by the lexer.
      std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
      add ? r->AddString(msg, field, std::move(text)) : r->SetString(msg, field, std::move(text));
      return;
    }
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (!v.is_string()) return Error(path, "expected a string, got ", v);
        add ? r->AddString(msg, field, v.get<std::string>())
            : r->SetString(msg, field, v.get<std::string>());
        return;
      case FieldDescriptor::CPPTYPE_BOOL:
        if (!v.is_boolean()) return Error(path, "expected true or false, got ", v);
        add ? r->AddBool(msg, field, v.get<bool>()) : r->SetBool(msg, field, v.get<bool>());
        return;
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
        return ReadInteger(v, path, field, msg);
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        if (!v.is_number()) return Error(path, "expected a number, got ", v);
        double d = v.get<double>();
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          add ? r->AddDouble(msg, field, d) : r->SetDouble(msg, field, d);
        } else {
          add ? r->AddFloat(msg, field, static_cast<float>(d))
              : r->SetFloat(msg, field, static_cast<float>(d));
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const google::protobuf::EnumValueDescriptor* value =
            v.is_string() ? field->enum_type()->FindValueByName(v.get<std::string>()) : nullptr;
        if (!v.is_string()) return Error(path, "expected a string, got ", v);
        if (value == nullptr) {
          errors_->Add(path, absl::StrCat(QuoteForError(v.get<std::string>()), " is not one of ",
                                          EnumNames(field->enum_type())));
          return;
        }
        add ? r->AddEnum(msg, field, value) : r->SetEnum(msg, field, value);
        return;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        if (!v.is_object()) return Error(path, "expected an object, got ", v);
        ReadObject(v, path, add ? r->AddMessage(msg, field) : r->MutableMessage(msg, field));
        return;
    }
  }

  // Reads any whole number that fits the field's type. The range of the field's rule only words
  // the error: the range itself is validation's to check (ValidateAppConfig), for JSON and gRPC
  // alike.
  void ReadInteger(const Json& v, const std::string& path, const FieldDescriptor* field,
                   Message* msg) {
    if (!v.is_number()) return Error(path, "expected a number, got ", v);
    TypeBounds bounds = BoundsOf(field);
    bool fits = false;
    uint64_t u = 0;
    int64_t i = 0;
    if (v.is_number_unsigned()) {
      u = v.get<uint64_t>();
      i = static_cast<int64_t>(u);
      fits = u <= bounds.max;
    } else if (v.is_number_integer()) {
      i = v.get<int64_t>();
      // "-0" parses as a signed integer zero: accept it like 0.
      fits = i == 0 || (bounds.is_signed && i >= bounds.min);
      u = static_cast<uint64_t>(i);
    }
    if (!fits) {
      const NumericRange* range = RuleOf(field).range;
      double lo = range != nullptr ? range->lo : bounds.lo;
      double hi = range != nullptr ? range->hi : bounds.hi;
      std::string reason =
          range != nullptr
              ? RangeError(*range)
              : absl::StrCat("must be ", static_cast<int64_t>(bounds.min), "..", bounds.max);
      // 9050.5 or 1e3 inside the range would read as a bare "must be 1..65535": say why.
      if (v.is_number_float() && v.get<double>() >= lo && v.get<double>() <= hi) {
        absl::StrAppend(&reason, " (a whole number, without a fraction or exponent)");
      }
      errors_->Add(path, std::move(reason));
      return;
    }
    const Reflection* r = msg->GetReflection();
    bool add = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT32:
        add ? r->AddUInt32(msg, field, static_cast<uint32_t>(u))
            : r->SetUInt32(msg, field, static_cast<uint32_t>(u));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        add ? r->AddUInt64(msg, field, u) : r->SetUInt64(msg, field, u);
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        add ? r->AddInt32(msg, field, static_cast<int32_t>(i))
            : r->SetInt32(msg, field, static_cast<int32_t>(i));
        break;
      default:
        add ? r->AddInt64(msg, field, i) : r->SetInt64(msg, field, i);
        break;
    }
  }

  static std::string EnumNames(const google::protobuf::EnumDescriptor* e) {
    std::vector<std::string> names;
    for (int i = 0; i < e->value_count(); ++i) names.push_back(QuoteForError(e->value(i)->name()));
    return absl::StrJoin(names, ", ");
  }

  void ReportUnknownFields(const Json& obj, const std::string& path, const Descriptor* d) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      const std::string& key = it.key();
      bool known = false;
      for (int i = 0; i < d->field_count() && !known; ++i) known = d->field(i)->json_name() == key;
      if (known) continue;
      std::string msg = absl::StrCat("unknown field ", QuoteForError(key));
      const std::string* best = nullptr;
      size_t best_distance = 3;  // Suggest only close spellings.
      for (int i = 0; i < d->field_count(); ++i) {
        const std::string& candidate = d->field(i)->json_name();
        // The distance is at least the difference in length: skip the quadratic work.
        size_t gap = key.size() > candidate.size() ? key.size() - candidate.size()
                                                   : candidate.size() - key.size();
        if (gap >= best_distance) continue;
        size_t distance = EditDistance(key, candidate);
        if (distance < best_distance) best_distance = distance, best = &candidate;
      }
      if (best != nullptr) absl::StrAppend(&msg, " (did you mean \"", *best, "\"?)");
      errors_->Add(PathOf(path, KeyForError(key)), std::move(msg));
    }
  }

  static std::string PathOf(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", AsAbsl(key));
  }

  void Error(const std::string& path, std::string_view expected, const Json& v) {
    errors_->Add(path, absl::StrCat(AsAbsl(expected), TypeName(v)));
  }

  ErrorList* errors_;
};

// Writes the fields of a message that are set, and the always-written ones, in the proto's order.
nlohmann::ordered_json MessageToJsonValue(const Message& msg) {
  const Descriptor* d = msg.GetDescriptor();
  const Reflection* r = msg.GetReflection();
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    bool always = RuleOf(field).always_written;
    auto value = [&](int index) -> nlohmann::ordered_json {
      bool rep = field->is_repeated();
      if (RuleOf(field).raw_json) {
        std::string text = rep ? r->GetRepeatedString(msg, field, index) : r->GetString(msg, field);
        // Text that came through the gRPC API unchecked and is not JSON is written as a string.
        nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(text, nullptr, false);
        return parsed.is_discarded() ? nlohmann::ordered_json(text) : parsed;
      }
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING:
          return rep ? r->GetRepeatedString(msg, field, index) : r->GetString(msg, field);
        case FieldDescriptor::CPPTYPE_BOOL:
          return rep ? r->GetRepeatedBool(msg, field, index) : r->GetBool(msg, field);
        case FieldDescriptor::CPPTYPE_UINT32:
          return rep ? r->GetRepeatedUInt32(msg, field, index) : r->GetUInt32(msg, field);
        case FieldDescriptor::CPPTYPE_UINT64:
          return rep ? r->GetRepeatedUInt64(msg, field, index) : r->GetUInt64(msg, field);
        case FieldDescriptor::CPPTYPE_INT32:
          return rep ? r->GetRepeatedInt32(msg, field, index) : r->GetInt32(msg, field);
        case FieldDescriptor::CPPTYPE_INT64:
          return rep ? r->GetRepeatedInt64(msg, field, index) : r->GetInt64(msg, field);
        case FieldDescriptor::CPPTYPE_DOUBLE:
          return rep ? r->GetRepeatedDouble(msg, field, index) : r->GetDouble(msg, field);
        case FieldDescriptor::CPPTYPE_FLOAT:
          return rep ? r->GetRepeatedFloat(msg, field, index) : r->GetFloat(msg, field);
        case FieldDescriptor::CPPTYPE_ENUM:
          return (rep ? r->GetRepeatedEnum(msg, field, index) : r->GetEnum(msg, field))->name();
        case FieldDescriptor::CPPTYPE_MESSAGE:
          return MessageToJsonValue(rep ? r->GetRepeatedMessage(msg, field, index)
                                        : r->GetMessage(msg, field));
      }
      return nullptr;
    };
    if (field->is_repeated()) {
      int n = r->FieldSize(msg, field);
      if (n == 0 && !always) continue;
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (int e = 0; e < n; ++e) list.push_back(value(e));
      out[field->json_name()] = std::move(list);
    } else if (always || r->HasField(msg, field)) {
      out[field->json_name()] = value(0);
    }
  }
  return out;
}

// Where reading stopped: "WHAT at line L, column C (in PATH): REASON", of the whole document.
absl::Status StoppedAt(std::string_view source, std::string_view what, std::string_view text,
                       size_t offset, const std::string& path, std::string_view reason) {
  return ValidationFailed({MakeValidationError(
      source, "",
      absl::StrCat(AsAbsl(what), " at ", LineColumn(text, offset),
                   path.empty() ? "" : absl::StrCat(" (in ", path, ")"), ": ", AsAbsl(reason)))});
}

absl::Status DocumentError(std::string_view source, std::string_view reason) {
  return ValidationFailed({MakeValidationError(source, "", reason)});
}

}  // namespace

absl::StatusOr<v1::AppConfig> ParseAppConfigJson(std::string_view text, std::string_view source) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return DocumentError(source, "invalid JSON: the file is empty");
  }
  Json root;
  RecordingDomParser dom(root);
  Json::sax_parse(text.begin(), text.end(), &dom, nlohmann::detail::input_format_t::json,
                  /*strict=*/true, /*ignore_comments=*/false);
  // The lexer takes a NUL byte for the end of the input (a C string's end): "\0{...}" would be
  // "unexpected end of input" and "{...}\0junk" would pass. No JSON text holds one.
  size_t nul = text.find('\0');
  bool stopped_at_nul = dom.stop() == RecordingDomParser::Stop::kSyntax && dom.offset() >= nul;
  if (nul != std::string_view::npos &&
      (dom.stop() == RecordingDomParser::Stop::kNone || stopped_at_nul)) {
    return StoppedAt(source, "invalid JSON", text, nul, stopped_at_nul ? dom.error_path() : "",
                     "invalid character (a NUL byte)");
  }
  switch (dom.stop()) {
    case RecordingDomParser::Stop::kSyntax:
      return StoppedAt(source, "invalid JSON", text, dom.offset(), dom.error_path(), dom.reason());
    case RecordingDomParser::Stop::kTooDeep:
      return StoppedAt(source, "JSON nested too deeply", text, OffsetOfTooDeep(text),
                       dom.error_path(), dom.reason());
    case RecordingDomParser::Stop::kNone:
    case RecordingDomParser::Stop::kNumberOverflow:
      break;  // The (partial) document is read below; an overflow always yields an error there.
  }
  if (!dom.duplicates().empty()) return dom.duplicates().ToStatus(source);
  if (!root.is_object()) {
    return DocumentError(
        source, absl::StrCat("expected a JSON object at the top level, got ", TypeName(root)));
  }

  ErrorList errors;
  v1::AppConfig app;
  MessageReader(&errors).ReadObject(root, "", &app);
  if (dom.stop() == RecordingDomParser::Stop::kNumberOverflow && errors.empty()) {
    // Cannot happen (no field accepts the stand-in), but a partial document must never pass.
    errors.Add("", "a number too large to read");
  }
  if (!errors.empty()) return errors.ToStatus(source);
  return app;
}

std::string AppConfigToJson(const v1::AppConfig& app) {
  return MessageToJsonValue(app).dump(4, ' ', false,
                                      nlohmann::ordered_json::error_handler_t::replace) +
         "\n";
}

}  // namespace valet
