#include "common/app_config_validation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/message_limits.h"
#include "common/validation_errors.h"
#include "tests/support/process.h"

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The errors as the lines a status message holds: "SOURCE: PATH: reason".
std::vector<std::string> Lines(const std::vector<v1::ValidationError>& errors) {
  std::vector<std::string> lines;
  for (const v1::ValidationError& e : errors) lines.push_back(FormatValidationError(e));
  return lines;
}

v1::AppConfig MinimalApp(const std::string& name) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(9050);
  return app;
}

TEST(IsValidAppNameTest, AcceptsPathSegmentNames) {
  for (const char* name : {"a", "userauth", "User-Auth_2", "v1.2", "a...", "-a", "_1", "a-"}) {
    EXPECT_TRUE(IsValidAppName(name)) << name;
  }
  EXPECT_TRUE(IsValidAppName(std::string(64, 'a')));
}

TEST(IsValidAppNameTest, RefusesWhatCannotBeOnePathSegment) {
  for (const char* name :
       {"", ".", "..", "...", ".hidden", "a/b", "/", "my app", "a?b", "a#b", "a%20b", "ä", "a\\b",
        "tab\t",
        // Punctuation only: a valid path segment, but no name (item 15 of the hardening issue).
        "-", "_", "--", "-_-", "_._"}) {
    EXPECT_FALSE(IsValidAppName(name)) << name;
  }
  EXPECT_FALSE(IsValidAppName(std::string(65, 'a')));
}

TEST(ValidateAppConfigTest, MinimalAppIsValid) {
  EXPECT_THAT(Lines(ValidateAppConfig(MinimalApp("shop"), "s.json")), IsEmpty());
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
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")), IsEmpty());
}

TEST(ValidateAppConfigTest, ReportsEveryProblemWithSourceAndPath) {
  v1::AppConfig app;
  app.set_authorize(true);
  app.set_rate_limit(true);
  app.set_balancing("fastest");
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_port(70000);
  ep->set_path("x");
  ep->set_scheme("ftp");
  ep->set_weight(1001);
  EXPECT_THAT(
      Lines(ValidateAppConfig(app, "s.json")),
      ElementsAre(
          "s.json: name: is required",
          "s.json: authKey: is required when authorize is true (or at least one consumer)",
          "s.json: limitValue: must be at least 1 when rateLimit is true",
          "s.json: endpoints[0].host: is required", "s.json: endpoints[0].port: must be 1..65535",
          "s.json: endpoints[0].path: \"x\" must be empty or start with \"/\", without spaces, "
          "\"?\" or \"#\"",
          "s.json: endpoints[0].scheme: \"ftp\" is not supported (\"http\" or \"https\")",
          "s.json: endpoints[0].weight: must be 0..1000",
          "s.json: balancing: \"fastest\" is not a policy (\"least_request\" or \"round_robin\")"));
}

TEST(ValidateAppConfigTest, HttpsEndpointsWithTheSystemStoreOrACaFile) {
  v1::AppConfig app = MinimalApp("shop");
  app.mutable_endpoints(0)->set_scheme("https");
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")), IsEmpty());
  app.set_backend_ca_file("/nonexistent/ca.pem");
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")),
              ElementsAre("s.json: backendCaFile: /nonexistent/ca.pem: cannot be read"));
  // A device could be read forever.
  app.set_backend_ca_file("/dev/zero");
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")),
              ElementsAre("s.json: backendCaFile: /dev/zero: not a regular file"));
  testing::TempDir dir;
  app.set_backend_ca_file(dir.WriteFile("ca.pem", "not PEM\n"));
  EXPECT_THAT(
      Lines(ValidateAppConfig(app, "s.json")),
      ElementsAre("s.json: backendCaFile: " + dir.Join("ca.pem") + ": holds no PEM certificate"));
  app.set_backend_ca_file(dir.WriteFile(
      "broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")),
              ElementsAre("s.json: backendCaFile: " + dir.Join("broken.pem") +
                          ": not a PEM CA bundle (a block does not parse)"));
}

TEST(ValidateAppConfigTest, NoEndpoints) {
  v1::AppConfig app = MinimalApp("shop");
  app.clear_endpoints();
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s.json")),
              ElementsAre("s.json: endpoints: at least one endpoint is required"));
}

TEST(ValidateAppConfigTest, BadNameAndHeaderAndHost) {
  v1::AppConfig app = MinimalApp("a/b");
  app.set_auth_header("X Auth");
  app.mutable_endpoints(0)->set_host("bad host");
  std::vector<std::string> errors = Lines(ValidateAppConfig(app, "s.json"));
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
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s")),
              ElementsAre("s: limitPeriodSeconds: must be 0..31622400 (one year)",
                          "s: connectTimeoutMs: must be 0..3600000 (one hour)",
                          "s: requestTimeoutMs: must be 0..3600000 (one hour)"));
}

TEST(ValidateAppConfigTest, PunctuationOnlyNameIsRefused) {
  EXPECT_THAT(Lines(ValidateAppConfig(MinimalApp("-"), "s")),
              ElementsAre("s: name: \"-\" cannot be a path segment: use 1 to 64 of A-Z a-z 0-9 . _ "
                          "- with at least one letter or digit (not starting with \".\")"));
}

TEST(ValidateAppConfigTest, PortZeroAndWeightBeyondRange) {
  v1::AppConfig app = MinimalApp("shop");
  app.mutable_endpoints(0)->set_port(0);
  app.mutable_endpoints(0)->set_weight(4294967295u);
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s")),
              ElementsAre("s: endpoints[0].port: must be 1..65535",
                          "s: endpoints[0].weight: must be 0..1000"));
}

// Item 8 of the hardening issue: every field has a size limit, named with its path and the limit.
TEST(ValidateAppConfigTest, FieldSizesAtTheLimitPass) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_description(std::string(kMaxDescriptionBytes, 'd'));
  app.set_authorize(true);
  app.set_auth_key(std::string(kMaxAuthKeyBytes, 'k'));
  app.set_auth_header(std::string(kMaxHeaderNameBytes, 'h'));
  app.mutable_endpoints(0)->set_path("/" + std::string(kMaxEndpointPathBytes - 1, 'p'));
  while (static_cast<size_t>(app.endpoints_size()) < kMaxEndpointsPerApp) {
    *app.add_endpoints() = app.endpoints(0);
  }
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s")), IsEmpty());
}

TEST(ValidateAppConfigTest, FieldSizesBeyondTheLimitAreRefused) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_description(std::string(kMaxDescriptionBytes + 1, 'd'));
  app.set_authorize(true);
  app.set_auth_key("SECRET" + std::string(kMaxAuthKeyBytes, 'k'));
  app.set_auth_header(std::string(kMaxHeaderNameBytes + 1, 'h'));
  app.mutable_endpoints(0)->set_path("/" + std::string(kMaxEndpointPathBytes, 'p'));
  std::vector<std::string> errors = Lines(ValidateAppConfig(app, "s.json"));
  EXPECT_THAT(errors, ElementsAre("s.json: description: must be at most 4096 bytes",
                                  "s.json: authKey: must be at most 1024 bytes",
                                  "s.json: authHeader: must be at most 256 bytes",
                                  "s.json: endpoints[0].path: must be at most 2048 bytes"));
  for (const std::string& e : errors) EXPECT_THAT(e, Not(HasSubstr("SECRET")));
}

TEST(ValidateAppConfigTest, TooManyEndpointsIsOneError) {
  v1::AppConfig app = MinimalApp("shop");
  app.mutable_endpoints(0)->set_port(0);  // Not reported: the count is the error.
  while (static_cast<size_t>(app.endpoints_size()) <= kMaxEndpointsPerApp) {
    *app.add_endpoints() = app.endpoints(0);
  }
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s")),
              ElementsAre("s: endpoints: must be at most 1024 endpoints, got 1025"));
}

// Values that are echoed (names, hosts, paths, header names) are bounded and escaped, so an error
// stays one short line.
TEST(ValidateAppConfigTest, EchoedValuesAreBoundedAndEscaped) {
  v1::AppConfig app = MinimalApp(std::string(100000, 'n'));
  app.set_auth_header("X\nInjected: yes");
  app.mutable_endpoints(0)->set_host(std::string(300, 'h') + " ");
  app.set_balancing(std::string(5000, 'b'));
  std::vector<std::string> errors = Lines(ValidateAppConfig(app, "s"));
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_THAT(errors[0], HasSubstr("s: name: \"" + std::string(100, 'n') + "\"... cannot be"));
  EXPECT_EQ(errors[1], "s: authHeader: \"X\\u000aInjected: yes\" is not a header name");
  EXPECT_THAT(errors[2],
              HasSubstr("s: endpoints[0].host: \"" + std::string(100, 'h') + "\"... is"));
  EXPECT_THAT(errors[3], HasSubstr("s: balancing: \"" + std::string(100, 'b') + "\"... is not"));
  for (const std::string& e : errors) {
    EXPECT_LT(e.size(), 250u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

TEST(ValidateAppConfigTest, RateLimitOffIgnoresLimitValue) {
  v1::AppConfig app = MinimalApp("shop");
  app.set_rate_limit(false);
  app.set_limit_value(0);
  app.set_authorize(false);
  app.set_auth_key("unused");
  EXPECT_THAT(Lines(ValidateAppConfig(app, "s")), IsEmpty());
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
            "x.json: endpoints[0].port: must be 1..65535\n"
            "y.json: balancing: \"random\" is not a policy (\"least_request\" or \"round_robin\")");
}

}  // namespace
}  // namespace valet
