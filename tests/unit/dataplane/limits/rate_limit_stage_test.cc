// The rate-limit stage over real budgets: spending, 429 with Retry-After, a consumer's own budget
// (set on the exchange as auth would), the give-back when the consumer's budget refuses, the
// announce mode before auth, and where BuildPipeline puts the stages.
#include "dataplane/limits/rate_limit_stage.h"

#include <gtest/gtest.h>

#include "dataplane/limits/rate_limits.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/pipeline/pipeline.h"
#include "tests/unit/dataplane/pipeline/recording_downstream.h"

namespace valet {
namespace {

namespace http = boost::beast::http;
using valet::testing::RecordingDownstream;

class RateLimitStageTest : public ::testing::Test {
 protected:
  // App "shop": `app_limit` per hour (0: none); consumer "alice" with `alice_limit` per hour
  // (0: none) and "bob" with no limit of his own.
  void Compile(uint32_t app_limit, uint32_t alice_limit, bool authorize = true) {
    v1::AppConfig app;
    app.set_name("shop");
    app.set_authorize(authorize);
    app.set_rate_limit(app_limit > 0);
    app.set_limit_value(app_limit);
    app.set_limit_period_seconds(3600);
    v1::Consumer* alice = app.add_consumers();
    alice->set_name("alice");
    alice->set_limit_value(alice_limit);
    alice->set_limit_period_seconds(3600);
    app.add_consumers()->set_name("bob");
    limits_ = registry_.Compile(app);
    ASSERT_NE(limits_, nullptr);
    alice_.name = "alice";
    alice_.limit_value = alice_limit;
    alice_.limit_period = std::chrono::seconds(3600);
    bob_.name = "bob";
  }

  // Runs the spend stage over a fresh exchange of `consumer`; the exchange's fields are kept in
  // `fields_`.
  StageResult Spend(const ConsumerRoute* consumer) {
    RateLimitStage stage(limits_, RateLimitStage::Mode::kSpend);
    Exchange exchange;
    exchange.consumer = consumer;
    StageResult result = stage.Run(exchange, downstream_);
    fields_.clear();
    exchange.response_fields.ApplyTo(fields_);
    return result;
  }

  uint32_t AppUsed() { return limits_->app->Peek(WallClock::now()).used; }

  RateLimits registry_;
  std::shared_ptr<const AppLimits> limits_;
  ConsumerRoute alice_;
  ConsumerRoute bob_;
  RecordingDownstream downstream_;
  http::fields fields_;
};

TEST_F(RateLimitStageTest, SpendsTheAppBudgetThenRefusesWith429) {
  Compile(2, 0);
  for (int used = 1; used <= 2; ++used) {
    StageResult result = Spend(nullptr);
    ASSERT_TRUE(result.next()) << used;
    EXPECT_EQ(fields_["X-Ratelimit-Used"], std::to_string(used));
    EXPECT_EQ(fields_["X-Ratelimit-Remaining"], std::to_string(2 - used));
    EXPECT_EQ(fields_["RateLimit-Policy"], "\"default\";q=2;w=3600");
    EXPECT_EQ(fields_.count("Retry-After"), 0u);
  }
  StageResult refused = Spend(nullptr);
  ASSERT_NE(refused.error(), nullptr);
  EXPECT_EQ(refused.error()->status, 429);
  EXPECT_EQ(refused.error()->code, "rate_limited");
  EXPECT_NE(refused.error()->message.find("limit exceeded"), std::string::npos);
  EXPECT_EQ(fields_["X-Ratelimit-Used"], "2");
  EXPECT_EQ(fields_["X-Ratelimit-Remaining"], "0");
  EXPECT_EQ(fields_["Retry-After"], fields_["X-Ratelimit-Reset"]);
  int reset = std::stoi(std::string(fields_["Retry-After"]));
  EXPECT_GE(reset, 1);
  EXPECT_LE(reset, 3600);
  EXPECT_EQ(limits_->counters->admitted.load(), 2u);
  EXPECT_EQ(limits_->counters->refused.load(), 1u);
}

TEST_F(RateLimitStageTest, AConsumerWithItsOwnLimitSpendsBothAndGetsBackTheAppsShare) {
  Compile(10, 1);
  ASSERT_TRUE(Spend(&alice_).next());
  EXPECT_EQ(fields_["X-Ratelimit-Remaining"], "0");  // Alice's budget binds.
  EXPECT_EQ(fields_["RateLimit-Policy"], "\"default\";q=10;w=3600, \"consumer\";q=1;w=3600");
  EXPECT_EQ(AppUsed(), 1u);

  StageResult refused = Spend(&alice_);
  ASSERT_NE(refused.error(), nullptr);
  EXPECT_EQ(refused.error()->code, "rate_limited");
  EXPECT_NE(refused.error()->message.find("consumer"), std::string::npos);
  EXPECT_EQ(AppUsed(), 1u) << "the app's share of a request alice's budget refused is given back";
  EXPECT_EQ(fields_["RateLimit"].substr(0, 14), "\"default\";r=9;");

  // Bob has no budget of his own: only the app's applies.
  ASSERT_TRUE(Spend(&bob_).next());
  EXPECT_EQ(AppUsed(), 2u);
  EXPECT_EQ(fields_["RateLimit-Policy"], "\"default\";q=10;w=3600");
  EXPECT_EQ(fields_["X-Ratelimit-Remaining"], "8");
}

TEST_F(RateLimitStageTest, AnAppRefusalSpendsNothingFromTheConsumer) {
  Compile(1, 5);
  ASSERT_TRUE(Spend(&bob_).next());
  ASSERT_NE(Spend(&alice_).error(), nullptr);
  EXPECT_EQ(limits_->consumers.at("alice")->Peek(WallClock::now()).used, 0u);
  EXPECT_EQ(fields_["RateLimit"].find("\"default\";r=0;t="), 0u) << fields_["RateLimit"];
}

TEST_F(RateLimitStageTest, OnlyAConsumerBudget) {
  Compile(0, 1);
  EXPECT_EQ(limits_->app, nullptr);
  ASSERT_TRUE(Spend(&bob_).next());
  EXPECT_EQ(fields_.count("X-Ratelimit-Used"), 0u) << "bob is not limited at all";
  ASSERT_TRUE(Spend(nullptr).next());
  ASSERT_TRUE(Spend(&alice_).next());
  EXPECT_EQ(fields_["RateLimit-Policy"], "\"consumer\";q=1;w=3600");
  ASSERT_NE(Spend(&alice_).error(), nullptr);
  EXPECT_EQ(limits_->counters->admitted.load(), 1u);
  EXPECT_EQ(limits_->counters->refused.load(), 1u);
}

TEST_F(RateLimitStageTest, AnnounceSetsTheFieldsAndSpendsNothing) {
  Compile(3, 0);
  ASSERT_TRUE(Spend(nullptr).next());
  RateLimitStage announce(limits_, RateLimitStage::Mode::kAnnounce);
  Exchange exchange;
  ASSERT_TRUE(announce.Run(exchange, downstream_).next());
  http::fields fields;
  exchange.response_fields.ApplyTo(fields);
  EXPECT_EQ(fields["X-Ratelimit-Used"], "1");
  EXPECT_EQ(fields["X-Ratelimit-Remaining"], "2");
  EXPECT_EQ(AppUsed(), 1u);
  EXPECT_EQ(limits_->counters->admitted.load(), 1u);
}

TEST_F(RateLimitStageTest, BuildPipelinePutsTheStagesAroundAuth) {
  Compile(3, 0, /*authorize=*/true);
  AppRoute app;
  app.limits = limits_;
  auto pipeline = BuildPipeline(app);
  ASSERT_EQ(pipeline->stages().size(), 2u);
  EXPECT_EQ(pipeline->stages().front()->name(), "rate_limit_announce");
  EXPECT_EQ(pipeline->stages().back()->name(), "rate_limit");

  Compile(3, 0, /*authorize=*/false);
  app.limits = limits_;
  pipeline = BuildPipeline(app);
  ASSERT_EQ(pipeline->stages().size(), 1u);
  EXPECT_EQ(pipeline->stages().front()->name(), "rate_limit");
}

}  // namespace
}  // namespace valet
