// Mocks in the JSON form of an app config: a JSON body is any JSON value in the file, kept as its
// text, and written back as JSON; validation refuses what the JSON form cannot (gRPC input).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/app_config_json.h"
#include "common/app_config_validation.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kApp[] = R"({
  "name": "shop",
  "endpoints": [{"host": "127.0.0.1", "path": "", "port": 9050}],
  "mocks": [
    {"method": "GET", "path": "/users/{id}", "json": {"id": 7, "tags": ["a", "b"]}, "delayMs": 5},
    {"path": "/text", "status": 418, "text": "teapot",
     "headers": [{"name": "X-A", "value": "b"}]},
    {"path": "/scalar", "json": 3}
  ],
  "mockMode": true,
  "mockHeader": true
})";

TEST(MockConfigTest, ParsesAndRoundTrips) {
  absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(kApp, "shop.json");
  ASSERT_TRUE(app.ok()) << app.status();
  ASSERT_EQ(app->mocks_size(), 3);
  EXPECT_EQ(app->mocks(0).json(), R"({"id":7,"tags":["a","b"]})");
  EXPECT_EQ(app->mocks(0).delay_ms(), 5u);
  EXPECT_EQ(app->mocks(1).status(), 418u);
  EXPECT_EQ(app->mocks(1).headers(0).name(), "X-A");
  EXPECT_EQ(app->mocks(2).json(), "3");
  EXPECT_TRUE(app->mock_mode());
  EXPECT_TRUE(app->mock_header());
  EXPECT_THAT(ValidateAppConfig(*app, "shop.json"), IsEmpty());

  std::string written = AppConfigToJson(*app);
  EXPECT_NE(written.find(R"("json": {)"), std::string::npos) << written;
  EXPECT_NE(written.find(R"("mockMode": true)"), std::string::npos) << written;
  absl::StatusOr<v1::AppConfig> again = ParseAppConfigJson(written, "again.json");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), app->SerializeAsString());
}

TEST(MockConfigTest, ValidationRefusesABodyThatIsNotJson) {
  v1::AppConfig app;
  app.set_name("shop");
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(9050);
  v1::Mock* mock = app.add_mocks();
  mock->set_path("/a");
  mock->set_json("{not json");
  std::vector<std::string> lines;
  for (const v1::ValidationError& e : ValidateAppConfig(app, "request")) {
    lines.push_back(FormatValidationError(e));
  }
  EXPECT_THAT(lines, ElementsAre("request: mocks[0].json: is not JSON text"));
  // The file form writes such text as a string rather than invalid JSON.
  EXPECT_NE(AppConfigToJson(app).find(R"("json": "{not json")"), std::string::npos);
}

TEST(MockConfigTest, MockModeWithoutMocksIsValid) {
  absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(
      R"({"name": "a", "endpoints": [{"host": "h", "port": 1}], "mockMode": true})", "a.json");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_THAT(ValidateAppConfig(*app, "a.json"), IsEmpty());
}

}  // namespace
}  // namespace valet
