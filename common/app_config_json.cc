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
#include "common/string_view.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

using Json = nlohmann::json;

// A hostile file can hold a million unknown keys; its error stays readable and small.
constexpr size_t kMaxErrorsPerFile = 100;

// Errors of one file, up to kMaxErrorsPerFile; the rest are counted.
class ErrorList {
 public:
  void Add(std::string error) {
    if (errors_.size() < kMaxErrorsPerFile) {
      errors_.push_back(std::move(error));
    } else {
      ++dropped_;
    }
  }
  bool empty() const { return errors_.empty(); }

  // One "SOURCE: error" line per error, and a last line counting those left out.
  absl::Status ToStatus(std::string_view source) const {
    std::vector<std::string> lines;
    for (const std::string& e : errors_) lines.push_back(absl::StrCat(AsAbsl(source), ": ", e));
    if (dropped_ > 0) {
      lines.push_back(absl::StrCat(AsAbsl(source), ": ", dropped_, " more error",
                                   dropped_ == 1 ? "" : "s", " not shown"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

 private:
  std::vector<std::string> errors_;
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
      duplicates_.Add(absl::StrCat(Path(), ": duplicate field ", QuoteForError(k)));
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
  // "PATH: duplicate field \"KEY\"" for every repeated key, in document order.
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

// Walks one JSON object against the fields it may hold, collecting errors: first the keys it may
// not hold (a misspelt key often explains the errors after it), then each field in the order the
// reader asks for them.
class ObjectReader {
 public:
  ObjectReader(const Json& obj, std::string path, std::initializer_list<const char*> known,
               ErrorList* errors)
      : obj_(obj), path_(std::move(path)), known_(known), errors_(errors) {
    ReportUnknownFields();
  }

  void String(const char* key, std::string* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Error(key, absl::StrCat("expected a string, got ", TypeName(*v)));
    *out = v->get<std::string>();
  }

  void Bool(const char* key, bool* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_boolean())
      return Error(key, absl::StrCat("expected true or false, got ", TypeName(*v)));
    *out = v->get<bool>();
  }

  // Reads any whole number that fits the proto's uint32; `range` only words the error. The range
  // itself is validation's to check (ValidateAppConfig), for JSON and gRPC alike.
  void Uint32(const char* key, const NumericRange& range, uint32_t* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_number()) return Error(key, absl::StrCat("expected a number, got ", TypeName(*v)));
    if (v->is_number_unsigned() && v->get<uint64_t>() <= std::numeric_limits<uint32_t>::max()) {
      *out = static_cast<uint32_t>(v->get<uint64_t>());
      return;
    }
    // "-0" parses as a signed integer zero: accept it like 0.
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() == 0) {
      *out = 0;
      return;
    }
    // 9050.5 or 1e3 inside the range would read as a bare "must be 1..65535": say why.
    bool fraction_in_range =
        v->is_number_float() && v->get<double>() >= range.lo && v->get<double>() <= range.hi;
    Error(key, absl::StrCat(
                   RangeError(range),
                   fraction_in_range ? " (a whole number, without a fraction or exponent)" : ""));
  }

  // Calls `each(element, path)` for every element of an array field, unless it has more than
  // `max_elements` (then none: the count is the error, and a hostile array costs no more).
  void Array(const char* key, size_t max_elements,
             const std::function<std::string(size_t)>& too_many,
             const std::function<void(const Json&, const std::string&)>& each) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Error(key, absl::StrCat("expected an array, got ", TypeName(*v)));
    if (v->size() > max_elements) return Error(key, too_many(v->size()));
    for (size_t i = 0; i < v->size(); ++i) {
      each((*v)[i], absl::StrCat(PathOf(key), "[", i, "]"));
    }
  }

 private:
  void ReportUnknownFields() {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      const std::string& key = it.key();
      if (std::any_of(known_.begin(), known_.end(), [&](const char* k) { return key == k; })) {
        continue;
      }
      std::string msg = absl::StrCat("unknown field ", QuoteForError(key));
      const char* best = nullptr;
      size_t best_distance = 3;  // Suggest only close spellings.
      for (const char* k : known_) {
        std::string_view candidate(k);
        // The distance is at least the difference in length: skip the quadratic work.
        size_t gap = key.size() > candidate.size() ? key.size() - candidate.size()
                                                   : candidate.size() - key.size();
        if (gap >= best_distance) continue;
        size_t d = EditDistance(key, candidate);
        if (d < best_distance) best_distance = d, best = k;
      }
      if (best != nullptr) absl::StrAppend(&msg, " (did you mean \"", best, "\"?)");
      errors_->Add(absl::StrCat(PathOf(KeyForError(key)), ": ", msg));
    }
  }

  const Json* Take(const char* key) {
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", AsAbsl(key));
  }

  void Error(const char* key, std::string_view reason) {
    errors_->Add(absl::StrCat(PathOf(key), ": ", AsAbsl(reason)));
  }

  const Json& obj_;
  std::string path_;
  std::vector<const char*> known_;
  ErrorList* errors_;
};

void ReadEndpoint(const Json& j, const std::string& path, v1::Endpoint* ep, ErrorList* errors) {
  if (!j.is_object()) {
    errors->Add(absl::StrCat(path, ": expected an object, got ", TypeName(j)));
    return;
  }
  ObjectReader r(j, path, {"host", "path", "port", "scheme", "weight"}, errors);
  r.String("host", ep->mutable_host());
  r.String("path", ep->mutable_path());
  uint32_t port = 0, weight = 0;
  r.Uint32("port", kPortRange, &port);
  ep->set_port(port);
  r.String("scheme", ep->mutable_scheme());
  r.Uint32("weight", kWeightRange, &weight);
  ep->set_weight(weight);
}

// Where reading stopped, as "SOURCE: WHAT at line L, column C (in PATH): REASON".
absl::Status StoppedAt(std::string_view source, std::string_view what, std::string_view text,
                       size_t offset, const std::string& path, std::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat(AsAbsl(source), ": ", AsAbsl(what), " at ", LineColumn(text, offset),
                   path.empty() ? "" : absl::StrCat(" (in ", path, ")"), ": ", AsAbsl(reason)));
}

}  // namespace

absl::StatusOr<v1::AppConfig> ParseAppConfigJson(std::string_view text, std::string_view source) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(source), ": invalid JSON: the file is empty"));
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
    return absl::InvalidArgumentError(absl::StrCat(
        AsAbsl(source), ": expected a JSON object at the top level, got ", TypeName(root)));
  }

  ErrorList errors;
  v1::AppConfig app;
  ObjectReader r(
      root, "",
      {"name", "description", "authorize", "authKey", "authHeader", "rateLimit", "limitValue",
       "limitPeriodSeconds", "endpoints", "balancing", "connectTimeoutMs", "requestTimeoutMs"},
      &errors);
  r.String("name", app.mutable_name());
  r.String("description", app.mutable_description());
  bool flag = false;
  r.Bool("authorize", &flag);
  app.set_authorize(flag);
  r.String("authKey", app.mutable_auth_key());
  r.String("authHeader", app.mutable_auth_header());
  flag = false;
  r.Bool("rateLimit", &flag);
  app.set_rate_limit(flag);
  uint32_t n = 0;
  r.Uint32("limitValue", kLimitValueRange, &n);
  app.set_limit_value(n);
  n = 0;
  r.Uint32("limitPeriodSeconds", kLimitPeriodSecondsRange, &n);
  app.set_limit_period_seconds(n);
  r.Array("endpoints", kMaxEndpointsPerApp, TooManyEndpointsError,
          [&](const Json& e, const std::string& path) {
            ReadEndpoint(e, path, app.add_endpoints(), &errors);
          });
  r.String("balancing", app.mutable_balancing());
  n = 0;
  r.Uint32("connectTimeoutMs", kTimeoutMsRange, &n);
  app.set_connect_timeout_ms(n);
  n = 0;
  r.Uint32("requestTimeoutMs", kTimeoutMsRange, &n);
  app.set_request_timeout_ms(n);

  if (dom.stop() == RecordingDomParser::Stop::kNumberOverflow && errors.empty()) {
    // Cannot happen (no field accepts the stand-in), but a partial document must never pass.
    errors.Add("a number too large to read");
  }
  if (!errors.empty()) return errors.ToStatus(source);
  return app;
}

std::string AppConfigToJson(const v1::AppConfig& app) {
  nlohmann::ordered_json j;
  j["name"] = app.name();
  j["description"] = app.description();
  j["authorize"] = app.authorize();
  j["authKey"] = app.auth_key();
  j["authHeader"] = app.auth_header();
  j["rateLimit"] = app.rate_limit();
  j["limitValue"] = app.limit_value();
  if (app.limit_period_seconds() != 0) j["limitPeriodSeconds"] = app.limit_period_seconds();
  nlohmann::ordered_json endpoints = nlohmann::ordered_json::array();
  for (const v1::Endpoint& ep : app.endpoints()) {
    nlohmann::ordered_json e;
    e["host"] = ep.host();
    e["path"] = ep.path();
    e["port"] = ep.port();
    if (!ep.scheme().empty()) e["scheme"] = ep.scheme();
    if (ep.weight() != 0) e["weight"] = ep.weight();
    endpoints.push_back(std::move(e));
  }
  j["endpoints"] = std::move(endpoints);
  if (!app.balancing().empty()) j["balancing"] = app.balancing();
  if (app.connect_timeout_ms() != 0) j["connectTimeoutMs"] = app.connect_timeout_ms();
  if (app.request_timeout_ms() != 0) j["requestTimeoutMs"] = app.request_timeout_ms();
  return j.dump(4, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace valet
