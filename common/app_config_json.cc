#include "common/app_config_json.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <limits>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/string_view.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

using Json = nlohmann::json;

// Builds the DOM like nlohmann's own parser, but records the first syntax error with its byte
// offset instead of throwing, and every key that appears twice in one object: nlohmann keeps the
// last one silently, so `"authorize": true, ..., "authorize": false` would quietly turn auth off.
class RecordingDomParser : public nlohmann::detail::json_sax_dom_parser<Json> {
  using Base = nlohmann::detail::json_sax_dom_parser<Json>;

 public:
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
    frames_.push_back(Frame{/*is_object=*/true, {}, {}, 0});
    return Base::start_object(len);
  }
  bool key(std::string& k) {
    Frame& f = frames_.back();
    f.key = k;
    if (!f.keys.insert(k).second) {
      duplicates_.push_back(absl::StrCat(Path(), ": duplicate field \"", k, "\""));
    }
    return Base::key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return Base::end_object();
  }
  bool start_array(std::size_t len) {
    BeginValue();
    frames_.push_back(Frame{/*is_object=*/false, {}, {}, 0});
    return Base::start_array(len);
  }
  bool end_array() {
    frames_.pop_back();
    return Base::end_array();
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    position_ = position;
    message_ = ex.what();
    failed_ = true;
    return false;
  }

  bool failed() const { return failed_; }
  std::size_t position() const { return position_; }
  const std::string& message() const { return message_; }
  // "PATH: duplicate field \"KEY\"" for every repeated key, in document order.
  const std::vector<std::string>& duplicates() const { return duplicates_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;  // Objects: the keys seen so far.
    std::string key;             // Objects: the key of the value being read.
    size_t next_index;           // Arrays: the index of the next element.
  };

  // Counts array elements so a path can name them.
  void BeginValue() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().next_index;
  }

  // The JSON path of the value being read, e.g. "endpoints[1].port".
  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_) {
      if (f.is_object) {
        if (!path.empty()) path += '.';
        path += f.key;
      } else {
        absl::StrAppend(&path, "[", f.next_index - 1, "]");
      }
    }
    return path;
  }

  bool failed_ = false;
  std::size_t position_ = 0;
  std::string message_;
  std::vector<Frame> frames_;
  std::vector<std::string> duplicates_;
};

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." -> the part
// after the last ": " that names the cause.
std::string SyntaxReason(const std::string& what) {
  auto pos = what.find("syntax error");
  if (pos != std::string::npos) return what.substr(pos);
  return what;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      // Bytes >= 0x80 are negative chars; std::tolower needs them as unsigned char.
      unsigned char ca = static_cast<unsigned char>(a[i - 1]);
      unsigned char cb = static_cast<unsigned char>(b[j - 1]);
      size_t sub = prev[j - 1] + (std::tolower(ca) == std::tolower(cb) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Describe(const Json& v) {
  std::string dumped = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (dumped.size() > 40) dumped = dumped.substr(0, 37) + "...";
  return dumped;
}

// Walks one JSON object against the fields it may hold, collecting errors.
class ObjectReader {
 public:
  ObjectReader(const Json& obj, std::string path, std::vector<std::string>* errors)
      : obj_(obj), path_(std::move(path)), errors_(errors) {}

  // Each Field call names an allowed key; Finish reports the keys nobody asked for.
  void String(const char* key, std::string* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Error(key, absl::StrCat("expected a string, got ", Describe(*v)));
    *out = v->get<std::string>();
  }

  void Bool(const char* key, bool* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) {
      return Error(key, absl::StrCat("expected true or false, got ", Describe(*v)));
    }
    *out = v->get<bool>();
  }

  void Uint32(const char* key, uint32_t* out) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (v->is_number_unsigned() && v->get<uint64_t>() <= std::numeric_limits<uint32_t>::max()) {
      *out = static_cast<uint32_t>(v->get<uint64_t>());
      return;
    }
    // "-0" parses as a signed integer zero: accept it like 0.
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() == 0) {
      *out = 0;
      return;
    }
    if (v->is_number_integer() && v->get<int64_t>() < 0) {
      return Error(key, absl::StrCat("must not be negative, got ", Describe(*v)));
    }
    Error(key, absl::StrCat("expected an integer from 0 to 4294967295, got ", Describe(*v)));
  }

  // Calls `each(element, path)` for every element of an array field.
  void Array(const char* key, const std::function<void(const Json&, const std::string&)>& each) {
    const Json* v = Take(key);
    if (v == nullptr) return;
    if (!v->is_array()) return Error(key, absl::StrCat("expected an array, got ", Describe(*v)));
    for (size_t i = 0; i < v->size(); ++i) {
      each((*v)[i], absl::StrCat(PathOf(key), "[", i, "]"));
    }
  }

  void Finish() {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (std::find(known_.begin(), known_.end(), it.key()) != known_.end()) continue;
      std::string msg = absl::StrCat("unknown field \"", it.key(), "\"");
      const std::string* best = nullptr;
      size_t best_distance = 3;  // Suggest only close spellings.
      for (const std::string& k : known_) {
        size_t d = EditDistance(it.key(), k);
        if (d < best_distance) best_distance = d, best = &k;
      }
      if (best != nullptr) absl::StrAppend(&msg, " (did you mean \"", *best, "\"?)");
      errors_->push_back(absl::StrCat(PathOf(it.key()), ": ", msg));
    }
  }

 private:
  const Json* Take(const char* key) {
    known_.emplace_back(key);
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", AsAbsl(key));
  }

  void Error(const char* key, std::string reason) {
    errors_->push_back(absl::StrCat(PathOf(key), ": ", reason));
  }

  const Json& obj_;
  std::string path_;
  std::vector<std::string>* errors_;
  std::vector<std::string> known_;
};

void ReadEndpoint(const Json& j, const std::string& path, v1::Endpoint* ep,
                  std::vector<std::string>* errors) {
  if (!j.is_object()) {
    errors->push_back(absl::StrCat(path, ": expected an object, got ", Describe(j)));
    return;
  }
  ObjectReader r(j, path, errors);
  r.String("host", ep->mutable_host());
  r.String("path", ep->mutable_path());
  uint32_t port = 0, weight = 0;
  r.Uint32("port", &port);
  ep->set_port(port);
  r.String("scheme", ep->mutable_scheme());
  r.Uint32("weight", &weight);
  ep->set_weight(weight);
  r.Finish();
}

}  // namespace

absl::StatusOr<v1::AppConfig> ParseAppConfigJson(std::string_view text, std::string_view source) {
  Json root;
  RecordingDomParser dom(root);
  Json::sax_parse(text.begin(), text.end(), &dom, nlohmann::detail::input_format_t::json,
                  /*strict=*/true, /*ignore_comments=*/false);
  if (dom.failed()) {
    // position() counts the characters read, the offending one included (end of input counts as
    // one): `offset` is that character's offset, text.size() at the end. Lines and columns are
    // 1-based, as editors show them.
    size_t offset = std::min(dom.position() == 0 ? 0 : dom.position() - 1, text.size());
    size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
    size_t line_start = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
    size_t column = line_start == std::string_view::npos ? offset + 1 : offset - line_start;
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(AsAbsl(source), ": invalid JSON: the file is empty"));
    }
    return absl::InvalidArgumentError(absl::StrCat(AsAbsl(source), ": invalid JSON at line ", line,
                                                   ", column ", column, ": ",
                                                   SyntaxReason(dom.message())));
  }
  if (!dom.duplicates().empty()) {
    std::vector<std::string> errors = dom.duplicates();
    for (std::string& e : errors) e = absl::StrCat(AsAbsl(source), ": ", e);
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        AsAbsl(source), ": expected a JSON object at the top level, got ", Describe(root)));
  }

  std::vector<std::string> errors;
  v1::AppConfig app;
  ObjectReader r(root, "", &errors);
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
  r.Uint32("limitValue", &n);
  app.set_limit_value(n);
  n = 0;
  r.Uint32("limitPeriodSeconds", &n);
  app.set_limit_period_seconds(n);
  r.Array("endpoints", [&](const Json& e, const std::string& path) {
    ReadEndpoint(e, path, app.add_endpoints(), &errors);
  });
  r.String("balancing", app.mutable_balancing());
  n = 0;
  r.Uint32("connectTimeoutMs", &n);
  app.set_connect_timeout_ms(n);
  n = 0;
  r.Uint32("requestTimeoutMs", &n);
  app.set_request_timeout_ms(n);
  r.Finish();

  if (!errors.empty()) {
    for (std::string& e : errors) e = absl::StrCat(AsAbsl(source), ": ", e);
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
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
