// QuotaBroker with real budgets and a recording send: modes, one unanswered request per budget,
// grants that wake waiters, a spent window, usage reports on attach, the fallback share, idle
// quota given back and a spent window asked again.
#include "dataplane/limits/quota_broker.h"

#include <gtest/gtest.h>

#include <vector>

namespace valet {
namespace {

using std::chrono::seconds;

class QuotaBrokerTest : public ::testing::Test {
 protected:
  QuotaBrokerTest()
      : broker_(
            [this](v1::DataPlaneMessage m) {
              sent_.push_back(std::move(m));
              return attached_;
            },
            std::chrono::milliseconds(100)),
        budget_(std::make_shared<Budget>(BudgetName{"shop", "", false}, 10, seconds(3600))) {
    broker_.Register(budget_);
  }

  uint64_t Window() { return WindowAt(WallClock::now(), seconds(3600)).index; }

  v1::QuotaGrant Grant(uint32_t granted, uint64_t window_granted, uint32_t planes) {
    v1::QuotaGrant grant;
    grant.mutable_budget()->set_app("shop");
    grant.mutable_budget()->set_limit(10);
    grant.mutable_budget()->set_period_seconds(3600);
    grant.set_window(Window());
    grant.set_granted(granted);
    grant.set_window_granted(window_granted);
    grant.set_data_planes(planes);
    return grant;
  }

  bool attached_ = true;
  std::vector<v1::DataPlaneMessage> sent_;
  QuotaBroker broker_;
  std::shared_ptr<Budget> budget_;
};

TEST_F(QuotaBrokerTest, BeforeTheFirstAttachTheWholeLimitIsLocal) {
  EXPECT_EQ(broker_.mode(), LimitMode::kFallback);
  EXPECT_EQ(broker_.share(10), 10u);
  EXPECT_NE(broker_.RenderPrometheus().find("valet_ratelimit_mode{mode=\"fallback\"} 1"),
            std::string::npos);
}

TEST_F(QuotaBrokerTest, AGrantIsAskedOnceAndWakesTheWaiters) {
  broker_.OnAttached();
  EXPECT_EQ(broker_.mode(), LimitMode::kGlobal);
  EXPECT_TRUE(sent_.empty()) << "nothing spent yet: nothing to report";
  Budget::Spend none = budget_->TrySpendGranted(WallClock::now());
  EXPECT_EQ(none.outcome, Budget::Outcome::kNeedGrant);
  int woken = 0;
  budget_->AddWaiter([&] { ++woken; });
  broker_.Ask(*budget_, Window());
  broker_.Ask(*budget_, Window());  // Unanswered: not asked again.
  ASSERT_EQ(sent_.size(), 1u);
  ASSERT_TRUE(sent_[0].has_quota_request());
  EXPECT_EQ(sent_[0].quota_request().budget().app(), "shop");
  EXPECT_EQ(sent_[0].quota_request().budget().limit(), 10u);
  EXPECT_EQ(sent_[0].quota_request().window(), Window());
  EXPECT_GE(sent_[0].quota_request().want(), 1u);

  broker_.OnGrant(Grant(2, 5, 3));
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(broker_.data_planes(), 3u);
  Budget::Spend first = budget_->TrySpendGranted(WallClock::now());
  ASSERT_TRUE(first.admitted());
  EXPECT_EQ(first.state.used, 4u) << "5 granted in the cluster, 1 still unspent here";
  ASSERT_TRUE(budget_->TrySpendGranted(WallClock::now()).admitted());
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kNeedGrant);

  broker_.Ask(*budget_, Window());
  ASSERT_EQ(sent_.size(), 2u);
  broker_.OnGrant(Grant(0, 10, 3));  // The window is spent cluster-wide.
  Budget::Spend refused = budget_->TrySpendGranted(WallClock::now());
  EXPECT_EQ(refused.outcome, Budget::Outcome::kRefused);
  EXPECT_EQ(refused.state.remaining(), 0u);
}

TEST_F(QuotaBrokerTest, DetachedMeansAFallbackShareAndAttachReportsTheSpending) {
  broker_.OnAttached();
  broker_.Ask(*budget_, Window());
  broker_.OnGrant(Grant(3, 3, 3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(budget_->TrySpendGranted(WallClock::now()).admitted());

  int woken = 0;
  budget_->AddWaiter([&] { ++woken; });
  attached_ = false;
  broker_.OnDetached();
  EXPECT_EQ(woken, 1) << "waiters spend in fallback mode instead of waiting";
  EXPECT_EQ(broker_.mode(), LimitMode::kFallback);
  EXPECT_EQ(broker_.share(10), 3u);  // 10 / 3 data planes.
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kNeedGrant)
      << "the old control plane's grants are dropped";
  // 3 spent while global count against the share of 3.
  EXPECT_FALSE(budget_->TrySpendUpTo(WallClock::now(), broker_.share(10)).admitted());

  sent_.clear();
  attached_ = true;
  broker_.OnAttached();
  EXPECT_EQ(broker_.mode(), LimitMode::kGlobal);
  ASSERT_EQ(sent_.size(), 1u);
  ASSERT_TRUE(sent_[0].has_usage_report());
  ASSERT_EQ(sent_[0].usage_report().usage_size(), 1);
  EXPECT_EQ(sent_[0].usage_report().usage(0).spent(), 3u);
  EXPECT_EQ(sent_[0].usage_report().usage(0).window(), Window());
  EXPECT_NE(broker_.RenderPrometheus().find("valet_ratelimit_mode{mode=\"global\"} 1"),
            std::string::npos);
}

TEST_F(QuotaBrokerTest, QuotaLeftIdleForASweepGoesBackAndBusyQuotaStays) {
  broker_.OnAttached();
  broker_.Ask(*budget_, Window());
  broker_.OnGrant(Grant(5, 5, 2));
  sent_.clear();
  broker_.Sweep();  // The grant just arrived: not idle yet.
  ASSERT_TRUE(budget_->TrySpendGranted(WallClock::now()).admitted());
  broker_.Sweep();  // Spent since the last sweep: still busy.
  EXPECT_TRUE(sent_.empty());

  broker_.Sweep();  // Nothing spent, nothing granted since: the 4 left go back.
  ASSERT_EQ(sent_.size(), 1u);
  ASSERT_TRUE(sent_[0].has_quota_return());
  EXPECT_EQ(sent_[0].quota_return().budget().app(), "shop");
  EXPECT_EQ(sent_[0].quota_return().window(), Window());
  EXPECT_EQ(sent_[0].quota_return().returned(), 4u);
  EXPECT_EQ(budget_->TokensLeft(Window()), 0u);
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kNeedGrant);
  broker_.Sweep();
  EXPECT_EQ(sent_.size(), 1u) << "nothing left to give back";

  // Detached: nothing goes back (the next control plane starts from what was spent).
  broker_.Ask(*budget_, Window());
  broker_.OnGrant(Grant(2, 7, 2));
  broker_.OnDetached();
  broker_.Sweep();
  broker_.Sweep();
  EXPECT_EQ(sent_.size(), 2u);  // The quota request only.
}

TEST_F(QuotaBrokerTest, ASpentWindowIsAskedAgainAfterTheIdleTime) {
  broker_.OnAttached();
  // Told the window is spent: refused without asking until the time to ask again...
  budget_->AddGrant(Window(), 0, 10, SteadyNowMs() + 60'000);
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kRefused);
  // ...then the next request asks: another data plane may have given quota back meanwhile.
  budget_->AddGrant(Window(), 0, 10, SteadyNowMs() - 1);
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kNeedGrant);
  // The broker sets the time from its idle time (500 ms by default): refused right after.
  broker_.Ask(*budget_, Window());
  broker_.OnGrant(Grant(0, 10, 3));
  EXPECT_EQ(budget_->TrySpendGranted(WallClock::now()).outcome, Budget::Outcome::kRefused);
}

}  // namespace
}  // namespace valet
