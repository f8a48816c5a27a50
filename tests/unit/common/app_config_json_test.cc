#include "common/app_config_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/validation_errors.h"
#include "google/protobuf/util/message_differencer.h"

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// The example of the original notes, unchanged.
constexpr char kSeed[] = R"({
    "name": "userauth",
    "description": "service to authorize users of system",
    "authorize": true,
    "authKey": "thisismyauth",
    "authHeader": "X-Valet-Auth",
    "rateLimit": true,
    "limitValue": 2,
    "endpoints": [
        { "host": "auth.test.com", "path":"", "port":9050 },
        { "host": "auth.test.com", "path":"", "port":9051 }
    ]
})";

// Every optional field set to a non-default value.
constexpr char kFull[] = R"({
    "name": "catalog",
    "description": "every field",
    "authorize": true,
    "authKey": "k1",
    "authHeader": "X-Api-Key",
    "rateLimit": true,
    "limitValue": 100,
    "limitPeriodSeconds": 3600,
    "endpoints": [
        { "host": "127.0.0.1", "path": "/api", "port": 9050, "scheme": "http", "weight": 3 },
        { "host": "b.internal", "path": "", "port": 9051 }
    ],
    "balancing": "round_robin",
    "connectTimeoutMs": 250,
    "requestTimeoutMs": 5000
})";

bool ProtoEquals(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

std::string ErrorOf(std::string_view text) {
  auto app = ParseAppConfigJson(text, "t.json");
  if (app.ok()) return "OK";
  EXPECT_EQ(app.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(app.status().message());
}

// The error lines of ErrorOf(text).
std::vector<std::string> ErrorLinesOf(std::string_view text) {
  std::vector<std::string> lines;
  std::string error = ErrorOf(text);
  size_t start = 0;
  while (start <= error.size()) {
    size_t end = error.find('\n', start);
    if (end == std::string::npos) end = error.size();
    lines.push_back(error.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// `text` inside the value of "name": {"name": TEXT, "endpoints": [...]}.
std::string InName(const std::string& text) {
  return R"({"name": )" + text + R"(, "endpoints": [{"host": "h", "port": 1}]})";
}

TEST(AppConfigJsonTest, SeedExampleLoads) {
  auto app = ParseAppConfigJson(kSeed, "seed.json");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->name(), "userauth");
  EXPECT_EQ(app->description(), "service to authorize users of system");
  EXPECT_TRUE(app->authorize());
  EXPECT_EQ(app->auth_key(), "thisismyauth");
  EXPECT_EQ(app->auth_header(), "X-Valet-Auth");
  EXPECT_TRUE(app->rate_limit());
  EXPECT_EQ(app->limit_value(), 2u);
  ASSERT_EQ(app->endpoints_size(), 2);
  EXPECT_EQ(app->endpoints(0).host(), "auth.test.com");
  EXPECT_EQ(app->endpoints(0).path(), "");
  EXPECT_EQ(app->endpoints(0).port(), 9050u);
  EXPECT_EQ(app->endpoints(1).port(), 9051u);
}

TEST(AppConfigJsonTest, EveryFieldParses) {
  auto app = ParseAppConfigJson(kFull, "full.json");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->limit_period_seconds(), 3600u);
  EXPECT_EQ(app->balancing(), "round_robin");
  EXPECT_EQ(app->connect_timeout_ms(), 250u);
  EXPECT_EQ(app->request_timeout_ms(), 5000u);
  EXPECT_EQ(app->endpoints(0).path(), "/api");
  EXPECT_EQ(app->endpoints(0).scheme(), "http");
  EXPECT_EQ(app->endpoints(0).weight(), 3u);
  EXPECT_EQ(app->endpoints(1).scheme(), "");
  EXPECT_EQ(app->endpoints(1).weight(), 0u);
}

TEST(AppConfigJsonTest, RoundTripKeepsEveryField) {
  for (const char* text : {kSeed, kFull}) {
    auto first = ParseAppConfigJson(text, "a.json");
    ASSERT_TRUE(first.ok()) << first.status();
    std::string rendered = AppConfigToJson(*first);
    auto second = ParseAppConfigJson(rendered, "b.json");
    ASSERT_TRUE(second.ok()) << second.status() << "\n" << rendered;
    EXPECT_TRUE(ProtoEquals(*first, *second)) << rendered;
    // Rendering is stable: a second round gives the same text.
    EXPECT_EQ(AppConfigToJson(*second), rendered);
  }
}

// Every valid fixture and every example app: rendered by the mapping, read back to the same
// config, and rendered again to the same text.
TEST(AppConfigJsonTest, RoundTripOfEveryFixtureAndExample) {
  size_t files = 0;
  for (const std::string& dir : {std::string(VALET_FIXTURES_DIR) + "/valid",
                                 std::string(VALET_EXAMPLE_CONF_DIR) + "/apps"}) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      ++files;
      absl::StatusOr<std::string> text = ReadFile(entry.path().string());
      ASSERT_TRUE(text.ok()) << text.status();
      auto first = ParseAppConfigJson(*text, entry.path().string());
      ASSERT_TRUE(first.ok()) << first.status();
      std::string rendered = AppConfigToJson(*first);
      auto second = ParseAppConfigJson(rendered, "rendered.json");
      ASSERT_TRUE(second.ok()) << second.status() << "\n" << rendered;
      EXPECT_TRUE(ProtoEquals(*first, *second)) << entry.path() << "\n" << rendered;
      EXPECT_EQ(AppConfigToJson(*second), rendered) << entry.path();
    }
  }
  EXPECT_GE(files, 4u);
}

// Sets every field of `msg` (and one element of each nested list, down to a few levels).
void FillEveryField(google::protobuf::Message* msg, int depth) {
  const google::protobuf::Descriptor* d = msg->GetDescriptor();
  const google::protobuf::Reflection* r = msg->GetReflection();
  for (int j = 0; j < d->field_count(); ++j) {
    const google::protobuf::FieldDescriptor* f = d->field(j);
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        if (f->is_repeated()) {
          r->AddString(msg, f, "x" + f->name());
        } else if (f->full_name() == "valet.v1.Mock.json") {
          r->SetString(msg, f, "[\"x" + f->name() + "\"]");  // Holds JSON text.
        } else {
          r->SetString(msg, f, "x" + f->name());
        }
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(msg, f, 1 + j);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(msg, f, true);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
        ASSERT_LT(depth, 4) << f->full_name() << ": nested deeper than this test fills";
        FillEveryField(f->is_repeated() ? r->AddMessage(msg, f) : r->MutableMessage(msg, f),
                       depth + 1);
        break;
      default:
        ADD_FAILURE() << f->full_name() << ": a field type this test does not fill";
    }
  }
}

// Every field of the proto has a JSON key (its json_name) and survives the round trip: a new
// field needs no code in the mapping.
TEST(AppConfigJsonTest, EveryProtoFieldIsMappedByItsJsonName) {
  v1::AppConfig app;
  const google::protobuf::Descriptor* d = app.GetDescriptor();
  const google::protobuf::Reflection* r = app.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        r->SetString(&app, f, "x" + f->name());
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(&app, f, true);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(&app, f, 7 + i);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
        // One element whose every field is set, nested lists included.
        FillEveryField(r->AddMessage(&app, f), 1);
        break;
      default:
        ADD_FAILURE() << f->full_name() << ": a field type this test does not fill";
    }
  }
  std::string json = AppConfigToJson(app);
  for (int i = 0; i < d->field_count(); ++i) {
    EXPECT_THAT(json, HasSubstr("\"" + d->field(i)->json_name() + "\":")) << json;
  }
  auto back = ParseAppConfigJson(json, "t");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(ProtoEquals(app, *back)) << json;
}

// A route backend's "required" is true unless it says false: its presence survives a round trip.
TEST(AppConfigJsonTest, RouteBackendRequiredKeepsItsPresence) {
  auto app = ParseAppConfigJson(R"({"name": "a", "endpoints": [{"host": "h", "port": 1}],
      "routes": [{"path": "/x", "backends": [{"url": "http://h:1", "required": false},
                                              {"url": "http://h:2"}]}]})",
                                "t.json");
  ASSERT_TRUE(app.ok()) << app.status();
  const v1::Route& route = app->routes(0);
  EXPECT_TRUE(route.backends(0).has_required());
  EXPECT_FALSE(route.backends(0).required());
  EXPECT_FALSE(route.backends(1).has_required());
  std::string json = AppConfigToJson(*app);
  EXPECT_THAT(json, HasSubstr(R"("required": false)"));
  EXPECT_EQ(json.find(R"("required")"), json.rfind(R"("required")")) << json;
}

// Errors are data: file, JSON path and reason apart, in the status's payload.
TEST(AppConfigJsonTest, ErrorsAreAListOfFilePathAndReason) {
  auto app = ParseAppConfigJson(
      R"({"name": "a", "endpoints": [{"host": "h", "port": "x"}], "rateLimt": true})", "t.json");
  ASSERT_FALSE(app.ok());
  std::vector<v1::ValidationError> errors = ValidationErrorsOf(app.status());
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_EQ(errors[0].file(), "t.json");
  EXPECT_EQ(errors[0].path(), "rateLimt");
  EXPECT_EQ(errors[0].reason(), "unknown field \"rateLimt\" (did you mean \"rateLimit\"?)");
  EXPECT_EQ(errors[1].path(), "endpoints[0].port");
  EXPECT_EQ(errors[1].reason(), "expected a number, got a string");
  EXPECT_TRUE(HasValidationErrors(app.status()));

  auto syntax = ParseAppConfigJson("{\"name\": ", "s.json");
  ASSERT_FALSE(syntax.ok());
  errors = ValidationErrorsOf(syntax.status());
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].file(), "s.json");
  EXPECT_THAT(errors[0].reason(), StartsWith("invalid JSON at line 1"));
}

TEST(AppConfigJsonTest, RoundTripOfEmptyConfig) {
  v1::AppConfig empty;
  auto back = ParseAppConfigJson(AppConfigToJson(empty), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(ProtoEquals(empty, *back));
}

TEST(AppConfigJsonTest, RenderUsesSeedKeysInSeedOrder) {
  auto app = ParseAppConfigJson(kSeed, "seed.json");
  ASSERT_TRUE(app.ok());
  std::string out = AppConfigToJson(*app);
  EXPECT_THAT(out, StartsWith("{\n    \"name\": \"userauth\",\n    \"description\""));
  size_t last = 0;
  for (const char* key : {"\"name\"", "\"description\"", "\"authorize\"", "\"authKey\"",
                          "\"authHeader\"", "\"rateLimit\"", "\"limitValue\"", "\"endpoints\""}) {
    size_t pos = out.find(key);
    ASSERT_NE(pos, std::string::npos) << key;
    EXPECT_GT(pos, last == 0 ? 0 : last) << key;
    last = pos;
  }
  // Defaults stay out of the file.
  EXPECT_THAT(out, Not(HasSubstr("limitPeriodSeconds")));
  EXPECT_THAT(out, Not(HasSubstr("balancing")));
  EXPECT_THAT(out, Not(HasSubstr("weight")));
  EXPECT_THAT(out, Not(HasSubstr("scheme")));
  EXPECT_EQ(out.back(), '\n');
}

TEST(AppConfigJsonTest, ErrorsNameSourceAndPath) {
  EXPECT_EQ(ErrorOf(R"({"name": "a", "endpoints": [{"host": "h", "port": "x"}]})"),
            "t.json: endpoints[0].port: expected a number, got a string");
}

TEST(AppConfigJsonTest, CollectsEveryFormErrorAtOnce) {
  std::string error =
      ErrorOf(R"({"name": 1, "authorize": "yes", "endpoints": [{"host": "h", "port": -3}],
                 "bogus": 0})");
  EXPECT_THAT(error, HasSubstr("t.json: name: expected a string, got a number"));
  EXPECT_THAT(error, HasSubstr("t.json: authorize: expected true or false, got a string"));
  EXPECT_THAT(error, HasSubstr("t.json: endpoints[0].port: must be 1..65535"));
  EXPECT_THAT(error, HasSubstr("t.json: bogus: unknown field \"bogus\""));
}

// The order docs/config.md shows: an object's unknown fields first, then its fields' errors in
// the order of the field tables, endpoints where the endpoints field is.
TEST(AppConfigJsonTest, UnknownFieldsComeBeforeTypeErrors) {
  EXPECT_THAT(ErrorLinesOf(R"({"requestTimeoutMs": "1", "name": 1, "autorize": true,
                               "endpoints": [{"port": "1", "prot": 2}], "zz": 0})"),
              ElementsAre("t.json: autorize: unknown field \"autorize\" (did you mean "
                          "\"authorize\"?)",
                          "t.json: zz: unknown field \"zz\"",
                          "t.json: name: expected a string, got a number",
                          "t.json: endpoints[0].prot: unknown field \"prot\" (did you mean "
                          "\"port\"?)",
                          "t.json: endpoints[0].port: expected a number, got a string",
                          "t.json: requestTimeoutMs: expected a number, got a string"));
}

TEST(AppConfigJsonTest, SyntaxErrorGivesLineAndColumn) {
  // The column is 1-based and points at the offending token (at its last character: the lexer
  // has read all of it).
  EXPECT_THAT(ErrorOf("{\n  \"name\": \"a\",\n  \"x\" 1\n}"),
              StartsWith("t.json: invalid JSON at line 3, column 7 (in x): syntax error"));
  EXPECT_THAT(ErrorOf("{\"a\": 1,}"), StartsWith("t.json: invalid JSON at line 1, column 9: "));
  // The end of input is just past the last character.
  EXPECT_THAT(ErrorOf("{\"a\": "), StartsWith("t.json: invalid JSON at line 1, column 7 (in a): "));
  EXPECT_THAT(ErrorOf("{\"a\": 1,\n"), StartsWith("t.json: invalid JSON at line 2, column 1: "));
  EXPECT_THAT(ErrorOf("x"), StartsWith("t.json: invalid JSON at line 1, column 1: "));
}

TEST(AppConfigJsonTest, SyntaxErrorGivesTheJsonPathWhereReadingStopped) {
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"host": "h", "port": x}]})"),
            "t.json: invalid JSON at line 1, column 38 (in endpoints[0].port): syntax error while "
            "parsing value - invalid literal");
  // Between values: the object or array itself.
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"host": "h"} {"host": "i"}]})"),
            "t.json: invalid JSON at line 1, column 30 (in endpoints): syntax error while parsing "
            "array - unexpected '{'; expected ']'");
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"host": "h" "port": 1}]})"),
            "t.json: invalid JSON at line 1, column 34 (in endpoints[0]): syntax error while "
            "parsing object - unexpected string literal; expected '}'");
}

// The issue's leak: `last read: '"MY-REAL-SECRET-abc123'` in REST answers and logs.
TEST(AppConfigJsonTest, SyntaxErrorsNeverQuoteTheInput) {
  const std::string secret = "MY-REAL-SECRET-abc123";
  EXPECT_EQ(ErrorOf(R"({"name": "a", "authKey": ")" + secret),
            "t.json: invalid JSON at line 1, column 48 (in authKey): syntax error while parsing "
            "value - invalid string: missing closing quote");
  for (const std::string& text : {
           R"({"authKey": ")" + secret,              // Unterminated string.
           R"({"authKey": ")" + secret + R"(\q"})",  // Bad escape.
           R"({"authKey": ")" + secret + "\x01\"}",  // Control character.
           R"({"authKey": )" + secret + "}",         // Bare word.
           R"({"authKey": -)" + secret + "}",        // Bad number.
           R"({"authKey": ")" + secret + "\xff\"}",  // Not UTF-8.
           R"({")" + secret,                         // Unterminated key.
       }) {
    std::string error = ErrorOf(text);
    EXPECT_THAT(error, StartsWith("t.json: invalid JSON at line 1, column ")) << text;
    EXPECT_THAT(error, Not(HasSubstr("abc123"))) << error;
    EXPECT_THAT(error, Not(HasSubstr("last read"))) << error;
  }
}

// Item 1 of the hardening issue: 100,000 nested arrays (200 KB) overflowed the stack while the
// error was built (the JSON library's dump of the whole subtree).
TEST(AppConfigJsonTest, DeepNestingIsRefusedAsItIsRead) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string path;
  for (int i = 0; i < 32; ++i) path += "[0]";
  EXPECT_EQ(ErrorOf(deep), "t.json: JSON nested too deeply at line 1, column 33 (in " + path +
                               "): more than 32 levels of arrays and objects");
  // In a field's value, where the type error used to dump it.
  EXPECT_THAT(ErrorOf(InName(deep)),
              StartsWith("t.json: JSON nested too deeply at line 1, column 41 (in name[0]"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(100000, '}');
  EXPECT_THAT(ErrorOf(objects),
              StartsWith("t.json: JSON nested too deeply at line 1, column 161 (in a.a.a."));
  // Brackets inside strings do not count towards the position.
  EXPECT_THAT(
      ErrorOf(R"({"x": "[[[{{{", "y": ")" + std::string(40, '[') + R"(\"", "name": )" + deep + "}"),
      HasSubstr("JSON nested too deeply at line 1, column 107 (in name"));
}

TEST(AppConfigJsonTest, NestingUpToTheLimitIsReadNormally) {
  // 32 levels: the top-level object and 31 arrays.
  EXPECT_EQ(ErrorOf(InName(std::string(31, '[') + std::string(31, ']'))),
            "t.json: name: expected a string, got an array");
  EXPECT_THAT(ErrorOf(InName(std::string(32, '[') + std::string(32, ']'))),
              StartsWith("t.json: JSON nested too deeply at line 1, column 41 (in name"));
}

TEST(AppConfigJsonTest, EmptyAndNonObjectDocuments) {
  EXPECT_EQ(ErrorOf(""), "t.json: invalid JSON: the file is empty");
  EXPECT_EQ(ErrorOf(" \n\t"), "t.json: invalid JSON: the file is empty");
  EXPECT_EQ(ErrorOf("42"), "t.json: expected a JSON object at the top level, got a number");
  EXPECT_EQ(ErrorOf("null"), "t.json: expected a JSON object at the top level, got null");
  EXPECT_EQ(ErrorOf(R"([{"name": "shop"}])"),
            "t.json: expected a JSON object at the top level, got an array");
}

// A NUL byte used to read as the end of the input: "\0..." said "unexpected end of input" and
// "{...}\0junk" passed.
TEST(AppConfigJsonTest, NulByteIsAnInvalidCharacter) {
  using namespace std::string_literals;
  EXPECT_EQ(ErrorOf("\0{\"name\": \"a\"}"s),
            "t.json: invalid JSON at line 1, column 1: invalid character (a NUL byte)");
  EXPECT_EQ(ErrorOf("{\"name\": \"a\"}\n\0{\"authorize\": false}"s),
            "t.json: invalid JSON at line 2, column 1: invalid character (a NUL byte)");
  EXPECT_EQ(ErrorOf("{\"name\": \"a\0b\"}"s),
            "t.json: invalid JSON at line 1, column 12 (in name): invalid character (a NUL byte)");
  EXPECT_EQ(ErrorOf("{\"name\": \0}"s),
            "t.json: invalid JSON at line 1, column 10 (in name): invalid character (a NUL byte)");
  // A syntax error before the NUL is reported as such.
  EXPECT_THAT(ErrorOf("{x\0"s), StartsWith("t.json: invalid JSON at line 1, column 2: syntax"));
}

// Type errors name the JSON type only: the value may be a secret typed into the wrong field, or
// a subtree of any size.
TEST(AppConfigJsonTest, TypeErrorsShowTheTypeNeverTheValue) {
  EXPECT_EQ(ErrorOf(R"({"authKey": 1234567890})"),
            "t.json: authKey: expected a string, got a number");
  EXPECT_EQ(ErrorOf(R"({"authKey": ["s3cr3t"]})"),
            "t.json: authKey: expected a string, got an array");
  EXPECT_EQ(ErrorOf(R"({"authorize": "s3cr3t"})"),
            "t.json: authorize: expected true or false, got a string");
  EXPECT_EQ(ErrorOf(R"({"port": 1, "endpoints": {"host": "s3cr3t"}})"),
            "t.json: port: unknown field \"port\"\n"
            "t.json: endpoints: expected an array, got an object");
  EXPECT_EQ(ErrorOf(R"({"limitValue": "s3cr3t"})"),
            "t.json: limitValue: expected a number, got a string");
  EXPECT_EQ(ErrorOf(R"({"limitValue": true})"),
            "t.json: limitValue: expected a number, got true or false");
  EXPECT_EQ(ErrorOf(R"({"endpoints": [[]]})"),
            "t.json: endpoints[0]: expected an object, got an array");
  EXPECT_EQ(ErrorOf(R"({"endpoints": ["s3cr3t"]})"),
            "t.json: endpoints[0]: expected an object, got a string");
  std::string list = "1";
  for (int i = 0; i < 50000; ++i) list += ",1";
  EXPECT_EQ(ErrorOf(R"({"authorize": [)" + list + "]}"),
            "t.json: authorize: expected true or false, got an array");
}

// Item 13 of the hardening issue: 2^64-1 as a port said "must not be negative", 1e400 showed the
// JSON library's exception and no path, 2^64+1 was shown as 1.8446744073709552e+19.
TEST(AppConfigJsonTest, NumbersOutOfRangeNameTheRange) {
  for (const char* port : {"-1", "-0.5", "4294967296", "18446744073709551615",
                           "18446744073709551616", "18446744073709551617", "-9223372036854775809",
                           "1e400", "-1e400", "1e19", "99999999999999999999999999999999"}) {
    EXPECT_EQ(ErrorOf(absl::StrCat(R"({"endpoints": [{"host": "h", "port": )", port, "}]}")),
              "t.json: endpoints[0].port: must be 1..65535")
        << port;
  }
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"port": 9050.5}]})"),
            "t.json: endpoints[0].port: must be 1..65535 (a whole number, without a fraction or "
            "exponent)");
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"weight": -1}]})"),
            "t.json: endpoints[0].weight: must be 0..1000");
  EXPECT_EQ(ErrorOf(R"({"limitValue": -5})"), "t.json: limitValue: must be 0..4294967295");
  EXPECT_EQ(ErrorOf(R"({"limitValue": 1e400})"), "t.json: limitValue: must be 0..4294967295");
  EXPECT_EQ(ErrorOf(R"({"limitPeriodSeconds": 1e20})"),
            "t.json: limitPeriodSeconds: must be 0..31622400 (one year)");
  EXPECT_EQ(ErrorOf(R"({"connectTimeoutMs": -1})"),
            "t.json: connectTimeoutMs: must be 0..3600000 (one hour)");
  EXPECT_EQ(ErrorOf(R"({"requestTimeoutMs": 1e3})"),
            "t.json: requestTimeoutMs: must be 0..3600000 (one hour) (a whole number, without a "
            "fraction or exponent)");
  // 1e400 stops the parser where it stands; the field still gets its own words.
  EXPECT_EQ(ErrorOf(R"({"name": 1e400, "bogus": 1})"),
            "t.json: name: expected a string, got a number");
  EXPECT_EQ(ErrorOf(R"({"bogus": [1e400]})"), "t.json: bogus: unknown field \"bogus\"");
  EXPECT_EQ(ErrorOf("1e400"), "t.json: expected a JSON object at the top level, got a number");
}

TEST(AppConfigJsonTest, IntegerEdges) {
  auto app = ParseAppConfigJson(R"({"limitValue": 4294967295, "connectTimeoutMs": -0})", "t");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->limit_value(), 4294967295u);
  EXPECT_EQ(app->connect_timeout_ms(), 0u);
  EXPECT_EQ(ErrorOf(R"({"limitValue": 4294967296})"), "t.json: limitValue: must be 0..4294967295");
  EXPECT_EQ(ErrorOf(R"({"limitValue": 1e3})"),
            "t.json: limitValue: must be 0..4294967295 (a whole number, without a fraction or "
            "exponent)");
  // In the uint32 range but outside the field's: validation's to refuse, in the same words.
  auto port = ParseAppConfigJson(R"({"endpoints": [{"port": 70000}]})", "t");
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(port->endpoints(0).port(), 70000u);
}

TEST(AppConfigJsonTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(ErrorOf(R"({"name": "a", "authorize": true, "authorize": false})"),
            "t.json: authorize: duplicate field \"authorize\"");
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"port": 1}, 7, {"host": "a", "host": "b"}]})"),
            "t.json: endpoints[2].host: duplicate field \"host\"");
  // The same key in different objects is fine.
  EXPECT_EQ(ErrorOf(R"({"name": "a", "endpoints": [{"host": "h"}, {"host": "h"}]})"), "OK");
}

TEST(AppConfigJsonTest, UnknownFieldHints) {
  EXPECT_EQ(ErrorOf(R"({"authkey": "x"})"),
            "t.json: authkey: unknown field \"authkey\" (did you mean \"authKey\"?)");
  EXPECT_EQ(ErrorOf(R"({"endpoints": [{"hots": "x"}]})"),
            "t.json: endpoints[0].hots: unknown field \"hots\" (did you mean \"host\"?)");
  EXPECT_EQ(ErrorOf(R"({"zzzzzzzz": 1})"), "t.json: zzzzzzzz: unknown field \"zzzzzzzz\"");
  // Non-ASCII keys are compared byte by byte without tripping over negative chars.
  EXPECT_THAT(ErrorOf(R"({"nàme": "a"})"), HasSubstr("unknown field \"nàme\""));
}

// Unknown keys are echoed (they are names), but bounded and escaped, in the path and the reason.
TEST(AppConfigJsonTest, UnknownKeysAreBoundedAndEscaped) {
  std::string long_key(10000, 'k');
  std::string error = ErrorOf(R"({")" + long_key + R"(": 1})");
  std::string shown = "\"" + std::string(100, 'k') + "\"...";
  EXPECT_EQ(error, "t.json: " + shown + ": unknown field " + shown);
  EXPECT_EQ(ErrorOf(R"({"a\nb": 1, "c d": 2})"),
            "t.json: \"a\\u000ab\": unknown field \"a\\u000ab\"\n"
            "t.json: \"c d\": unknown field \"c d\"");
  EXPECT_EQ(ErrorOf(R"({"a": 1, "a": 2, "x\u0000": 3, "x\u0000": 4})"),
            "t.json: a: duplicate field \"a\"\n"
            "t.json: \"x\\u0000\": duplicate field \"x\\u0000\"");
}

// A hostile file of many mistakes gets a bounded error, not one line per mistake.
TEST(AppConfigJsonTest, ErrorsOfOneFileAreBounded) {
  std::string text = "{";
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&text, i == 0 ? "" : ",", "\"k", i, "\": 0");
  text += "}";
  std::vector<std::string> lines = ErrorLinesOf(text);
  ASSERT_THAT(lines, SizeIs(101));
  EXPECT_EQ(lines.back(), "t.json: 4900 more errors not shown");
  std::string dups = "{";
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&dups, i == 0 ? "" : ",", "\"name\": \"a\"");
  dups += "}";
  lines = ErrorLinesOf(dups);
  ASSERT_THAT(lines, SizeIs(101));
  EXPECT_EQ(lines.back(), "t.json: 4899 more errors not shown");
}

TEST(AppConfigJsonTest, TooManyEndpointsAreNotRead) {
  std::string endpoints = "[";
  for (int i = 0; i < 1025; ++i) absl::StrAppend(&endpoints, i == 0 ? "" : ",", "{\"prot\": 0}");
  endpoints += "]";
  EXPECT_EQ(ErrorOf(R"({"endpoints": )" + endpoints + "}"),
            "t.json: endpoints: must be at most 1024 endpoints, got 1025");
}

TEST(AppConfigJsonTest, NullMeansAbsent) {
  auto app = ParseAppConfigJson(R"({"name": "a", "authHeader": null, "endpoints": null})", "t");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->auth_header(), "");
  EXPECT_EQ(app->endpoints_size(), 0);
}

}  // namespace
}  // namespace valet
