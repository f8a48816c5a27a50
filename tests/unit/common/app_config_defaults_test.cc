#include "common/app_config_defaults.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

TEST(AppConfigDefaultsTest, ZeroMeansDefault) {
  v1::AppConfig app;
  EXPECT_EQ(AuthHeaderOf(app), "X-Valet-Auth");
  EXPECT_EQ(LimitPeriodSecondsOf(app), 60u);
  EXPECT_EQ(BalancingOf(app), "least_request");
  EXPECT_EQ(ConnectTimeoutMsOf(app), 1000u);
  EXPECT_EQ(RequestTimeoutMsOf(app), 15000u);
  v1::Endpoint ep;
  EXPECT_EQ(WeightOf(ep), 1u);
}

TEST(AppConfigDefaultsTest, SetValuesWin) {
  v1::AppConfig app;
  app.set_auth_header("X-Api-Key");
  app.set_limit_period_seconds(1);
  app.set_balancing("round_robin");
  app.set_connect_timeout_ms(5);
  app.set_request_timeout_ms(6);
  EXPECT_EQ(AuthHeaderOf(app), "X-Api-Key");
  EXPECT_EQ(LimitPeriodSecondsOf(app), 1u);
  EXPECT_EQ(BalancingOf(app), "round_robin");
  EXPECT_EQ(ConnectTimeoutMsOf(app), 5u);
  EXPECT_EQ(RequestTimeoutMsOf(app), 6u);
  v1::Endpoint ep;
  ep.set_weight(7);
  EXPECT_EQ(WeightOf(ep), 7u);
}

}  // namespace
}  // namespace valet
