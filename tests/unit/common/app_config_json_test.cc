#include "common/app_config_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "google/protobuf/util/message_differencer.h"

namespace valet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
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
            "t.json: endpoints[0].port: expected an integer from 0 to 4294967295, got \"x\"");
}

TEST(AppConfigJsonTest, CollectsEveryFormErrorAtOnce) {
  std::string error =
      ErrorOf(R"({"name": 1, "authorize": "yes", "endpoints": [{"host": "h", "port": -3}],
                 "bogus": 0})");
  EXPECT_THAT(error, HasSubstr("t.json: name: expected a string, got 1"));
  EXPECT_THAT(error, HasSubstr("t.json: authorize: expected true or false, got \"yes\""));
  EXPECT_THAT(error, HasSubstr("t.json: endpoints[0].port: must not be negative, got -3"));
  EXPECT_THAT(error, HasSubstr("t.json: bogus: unknown field \"bogus\""));
}

TEST(AppConfigJsonTest, SyntaxErrorGivesLineAndColumn) {
  // The column is 1-based and points at the offending token.
  EXPECT_THAT(ErrorOf("{\n  \"name\": \"a\",\n  \"x\" 1\n}"),
              StartsWith("t.json: invalid JSON at line 3, column 7: syntax error"));
  EXPECT_THAT(ErrorOf("{\"a\": 1,}"), StartsWith("t.json: invalid JSON at line 1, column 9: "));
  // The end of input is just past the last character.
  EXPECT_THAT(ErrorOf("{\"a\": "), StartsWith("t.json: invalid JSON at line 1, column 7: "));
  EXPECT_THAT(ErrorOf("{\"a\": 1,\n"), StartsWith("t.json: invalid JSON at line 2, column 1: "));
  EXPECT_THAT(ErrorOf("x"), StartsWith("t.json: invalid JSON at line 1, column 1: "));
}

TEST(AppConfigJsonTest, EmptyAndNonObjectDocuments) {
  EXPECT_EQ(ErrorOf(""), "t.json: invalid JSON: the file is empty");
  EXPECT_EQ(ErrorOf(" \n\t"), "t.json: invalid JSON: the file is empty");
  EXPECT_EQ(ErrorOf("42"), "t.json: expected a JSON object at the top level, got 42");
  EXPECT_EQ(ErrorOf("null"), "t.json: expected a JSON object at the top level, got null");
}

TEST(AppConfigJsonTest, LongValuesAreShortenedInErrors) {
  std::string list = "1";
  for (int i = 0; i < 50; ++i) list += ",1";
  std::string error = ErrorOf(R"({"authorize": [)" + list + "]}");
  EXPECT_THAT(error, HasSubstr("authorize: expected true or false, got [1,1,1,"));
  EXPECT_THAT(error, HasSubstr("..."));
  EXPECT_LT(error.size(), 120u);
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

TEST(AppConfigJsonTest, NullMeansAbsent) {
  auto app = ParseAppConfigJson(R"({"name": "a", "authHeader": null, "endpoints": null})", "t");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->auth_header(), "");
  EXPECT_EQ(app->endpoints_size(), 0);
}

TEST(AppConfigJsonTest, IntegerEdges) {
  auto app = ParseAppConfigJson(R"({"limitValue": 4294967295, "connectTimeoutMs": -0})", "t");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->limit_value(), 4294967295u);
  EXPECT_EQ(app->connect_timeout_ms(), 0u);
  EXPECT_THAT(ErrorOf(R"({"limitValue": 1e3})"),
              HasSubstr("limitValue: expected an integer from 0 to 4294967295, got 1000.0"));
  EXPECT_THAT(ErrorOf(R"({"limitValue": true})"),
              HasSubstr("limitValue: expected an integer from 0 to 4294967295, got true"));
}

TEST(AppConfigJsonTest, EndpointMustBeObject) {
  EXPECT_EQ(ErrorOf(R"({"endpoints": [[]]})"), "t.json: endpoints[0]: expected an object, got []");
}

}  // namespace
}  // namespace valet
