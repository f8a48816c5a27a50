#include "common/app_config_json.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

TEST(AppConfigJsonTest, SeedExampleLoads) {
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
  auto app = ParseAppConfigJson(kSeed, "seed.json");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->name(), "userauth");
  EXPECT_EQ(app->endpoints_size(), 2);
  EXPECT_EQ(app->endpoints(1).port(), 9051u);
}

}  // namespace
}  // namespace valet
