#include "common/app_config_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::AppConfig MinimalApp(const std::string& name) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(9050);
  return app;
}

TEST(IsValidAppNameTest, AcceptsPathSegmentNames) {
  for (const char* name : {"a", "userauth", "User-Auth_2", "v1.2", "a...", "-"}) {
    EXPECT_TRUE(IsValidAppName(name)) << name;
  }
  EXPECT_TRUE(IsValidAppName(std::string(64, 'a')));
}

TEST(IsValidAppNameTest, RefusesWhatCannotBeOnePathSegment) {
  for (const char* name :
       {"", ".", "..", "...", ".hidden", "a/b", "/", "my app", "a?b", "a#b", "a%20b", "ä", "a\\b", "tab\t"}) {
    EXPECT_FALSE(IsValidAppName(name)) << name;
  }
  EXPECT_FALSE(IsValidAppName(std::string(65, 'a')));
}

TEST(ValidateAppConfigTest, MinimalAppIsValid) {
  EXPECT_THAT(ValidateAppConfig(MinimalApp("shop"), "s.json"), IsEmpty());
}

TEST(ValidateAppConfigTest, FullAppIsValid) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_authorize(true);
  app.set_auth_key("k");
  app.set_auth_header("X-Api-Key");
  app.set_rate_limit(true);
  app.set_limit_value(1);
  app.set_limit_period_seconds(86400 * 366);
  app.set_balancing("round_robin");
  app.set_connect_timeout_ms(3600 * 1000);
  app.set_request_timeout_ms(3600 * 1000);
  app.mutable_endpoints(0)->set_path("/api/v1");
  app.mutable_endpoints(0)->set_scheme("http");
  app.mutable_endpoints(0)->set_weight(1000);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("[::1]");
  ep->set_port(65535);
  EXPECT_THAT(ValidateAppConfig(app, "s.json"), IsEmpty());
}

TEST(ValidateAppConfigTest, ReportsEveryProblemWithSourceAndPath) {
  v1::AppConfig app;
  app.set_authorize(true);
  app.set_rate_limit(true);
  app.set_balancing("fastest");
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_port(70000);
  ep->set_path("x");
  ep->set_scheme("https");
  ep->set_weight(1001);
  EXPECT_THAT(
      ValidateAppConfig(app, "s.json"),
      ElementsAre(
          "s.json: name: is required", "s.json: authKey: is required when authorize is true",
          "s.json: limitValue: must be at least 1 when rateLimit is true",
          "s.json: endpoints[0].host: is required",
          "s.json: endpoints[0].port: 70000 is out of range (1..65535)",
          "s.json: endpoints[0].path: \"x\" must be empty or start with \"/\", without spaces, "
          "\"?\" or \"#\"",
          "s.json: endpoints[0].scheme: \"https\" is not supported (only \"http\")",
          "s.json: endpoints[0].weight: 1001 is out of range (1..1000)",
          "s.json: balancing: \"fastest\" is not a policy (\"least_request\" or \"round_robin\")"));
}

TEST(ValidateAppConfigTest, NoEndpoints) {
  v1::AppConfig app = MinimalApp("shop");
  app.clear_endpoints();
  EXPECT_THAT(ValidateAppConfig(app, "s.json"),
              ElementsAre("s.json: endpoints: at least one endpoint is required"));
}

TEST(ValidateAppConfigTest, BadNameAndHeaderAndHost) {
  v1::AppConfig app = MinimalApp("a/b");
  app.set_auth_header("X Auth");
  app.mutable_endpoints(0)->set_host("bad host");
  std::vector<std::string> errors = ValidateAppConfig(app, "s.json");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_THAT(errors[0], HasSubstr("s.json: name: \"a/b\" cannot be a path segment"));
  EXPECT_EQ(errors[1], "s.json: authHeader: \"X Auth\" is not a header name");
  EXPECT_EQ(errors[2], "s.json: endpoints[0].host: \"bad host\" is not a host name or address");
}

TEST(ValidateAppConfigTest, LimitsAndTimeoutsBounded) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_limit_period_seconds(86400 * 366 + 1);
  app.set_connect_timeout_ms(3600 * 1000 + 1);
  app.set_request_timeout_ms(3600 * 1000 + 1);
  EXPECT_THAT(ValidateAppConfig(app, "s"),
              ElementsAre("s: limitPeriodSeconds: must be at most one year (31622400)",
                          "s: connectTimeoutMs: must be at most 3600000 (one hour)",
                          "s: requestTimeoutMs: must be at most 3600000 (one hour)"));
}

TEST(ValidateAppConfigTest, RateLimitOffIgnoresLimitValue) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_rate_limit(false);
  app.set_limit_value(0);
  app.set_authorize(false);
  app.set_auth_key("unused");
  EXPECT_THAT(ValidateAppConfig(app, "s"), IsEmpty());
}

TEST(ValidateAppSetTest, AcceptsDistinctNames) {
  EXPECT_TRUE(ValidateAppSet({{MinimalApp("a"), "a.json"}, {MinimalApp("b"), "b.json"}}).ok());
  EXPECT_TRUE(ValidateAppSet({}).ok());
}

TEST(ValidateAppSetTest, RefusesDuplicateNamesNamingBothSources) {
  absl::Status s = ValidateAppSet(
      {{MinimalApp("a"), "one.json"}, {MinimalApp("b"), "b.json"}, {MinimalApp("a"), "two.json"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "two.json: name: duplicate app name \"a\" (also in one.json)");
}

TEST(ValidateAppSetTest, ListsErrorsOfEveryApp) {
  v1::AppConfig bad1 = MinimalApp("x");
  bad1.mutable_endpoints(0)->set_port(0);
  v1::AppConfig bad2 = MinimalApp("y");
  bad2.set_balancing("random");
  absl::Status s = ValidateAppSet({{bad1, "x.json"}, {bad2, "y.json"}});
  EXPECT_EQ(s.message(),
            "x.json: endpoints[0].port: 0 is out of range (1..65535)\n"
            "y.json: balancing: \"random\" is not a policy (\"least_request\" or \"round_robin\")");
}

}  // namespace
}  // namespace valet
