// RateLimits: which apps get budgets, and what survives a recompile.
#include "dataplane/limits/rate_limits.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

using std::chrono::seconds;

v1::AppConfig App(const std::string& name, uint32_t limit, uint32_t period = 0) {
  v1::AppConfig app;
  app.set_name(name);
  app.set_rate_limit(limit > 0);
  app.set_limit_value(limit);
  app.set_limit_period_seconds(period);
  return app;
}

TEST(RateLimitsTest, AnAppWithoutLimitsGetsNone) {
  RateLimits limits;
  EXPECT_EQ(limits.Compile(App("open", 0)), nullptr);
  EXPECT_EQ(limits.RenderPrometheus().find("app=\"open\""), std::string::npos);
}

TEST(RateLimitsTest, TheAppBudgetUsesTheDefaultPeriod) {
  RateLimits limits;
  auto compiled = limits.Compile(App("shop", 5));
  ASSERT_NE(compiled, nullptr);
  ASSERT_NE(compiled->app, nullptr);
  EXPECT_EQ(compiled->app->limit(), 5u);
  EXPECT_EQ(compiled->app->period(), seconds(60));
  EXPECT_TRUE(compiled->consumers.empty());
  EXPECT_FALSE(compiled->announce_before_auth);
}

TEST(RateLimitsTest, ABudgetSurvivesARecompileAndTakesANewLimit) {
  RateLimits limits;
  auto first = limits.Compile(App("shop", 5, 30));
  auto same = limits.Compile(App("shop", 5, 30));
  EXPECT_EQ(first->app, same->app);
  EXPECT_EQ(first->counters, same->counters);
  auto raised = limits.Compile(App("shop", 9, 30));
  EXPECT_EQ(first->app, raised->app);
  EXPECT_EQ(first->app->limit(), 9u);  // The old snapshot's stage sees it at once too.
  auto other_period = limits.Compile(App("shop", 9, 10));
  EXPECT_NE(first->app, other_period->app);
  EXPECT_EQ(other_period->app->period(), seconds(10));
  EXPECT_EQ(first->counters, other_period->counters);  // Counters are per app, for ever.
}

TEST(RateLimitsTest, ConsumersWithALimitOfTheirOwnGetABudget) {
  RateLimits limits;
  v1::AppConfig app = App("shop", 0);
  app.set_authorize(true);
  v1::Consumer* alice = app.add_consumers();
  alice->set_name("alice");
  alice->set_key("k1");
  alice->set_limit_value(2);
  v1::Consumer* bob = app.add_consumers();
  bob->set_name("bob");
  bob->set_key("k2");
  auto compiled = limits.Compile(app);
  ASSERT_NE(compiled, nullptr);
  EXPECT_EQ(compiled->app, nullptr);
  ASSERT_EQ(compiled->consumers.size(), 1u);
  EXPECT_EQ(compiled->consumers.at("alice")->limit(), 2u);
  EXPECT_EQ(compiled->consumers.at("alice")->period(), seconds(60));
  EXPECT_TRUE(compiled->announce_before_auth);
  auto again = limits.Compile(app);
  EXPECT_EQ(compiled->consumers.at("alice"), again->consumers.at("alice"));
}

TEST(RateLimitsTest, CountersShowInPrometheusText) {
  RateLimits limits;
  auto compiled = limits.Compile(App("sh\"op", 5));
  compiled->counters->admitted += 4;
  compiled->counters->refused += 1;
  std::string text = limits.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE valet_ratelimit_admitted_total counter"), std::string::npos);
  EXPECT_NE(text.find("valet_ratelimit_admitted_total{app=\"sh\\\"op\"} 4\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("valet_ratelimit_refused_total{app=\"sh\\\"op\"} 1\n"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace valet
