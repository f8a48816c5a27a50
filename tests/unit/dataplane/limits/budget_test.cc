// Budget: fixed wall-clock windows, exact spending (also from many threads at once), refunds and
// limit changes.
#include "dataplane/limits/budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace valet {
namespace {

using std::chrono::seconds;

WallClock::time_point At(double unix_seconds) {
  return WallClock::time_point(
      std::chrono::duration_cast<WallClock::duration>(std::chrono::duration<double>(unix_seconds)));
}

TEST(FixedWindowTest, WindowsAreAlignedToThePeriodAndResetRoundsUp) {
  // 999'999'960 is a multiple of 60: a window starts there and ends at 1'000'000'020.
  WindowPosition at = WindowAt(At(999'999'999.5), seconds(60));
  EXPECT_EQ(at.index, 999'999'960u / 60);
  EXPECT_EQ(at.reset, seconds(21));  // 20.5 s left, rounded up.
  EXPECT_EQ(WindowAt(At(1'000'000'019.999), seconds(60)).reset, seconds(1));
  WindowPosition next = WindowAt(At(1'000'000'020), seconds(60));
  EXPECT_EQ(next.index, at.index + 1);
  EXPECT_EQ(next.reset, seconds(60));
  EXPECT_EQ(WindowAt(At(7.25), seconds(1)).index, 7u);
  EXPECT_EQ(WindowAt(At(7.25), seconds(1)).reset, seconds(1));
}

TEST(BudgetTest, SpendsUpToTheLimitThenRefuses) {
  Budget budget(3, seconds(60));
  const auto now = At(1'000'000'000);
  for (uint32_t i = 1; i <= 3; ++i) {
    Budget::Spend s = budget.TrySpend(now);
    ASSERT_TRUE(s.admitted()) << i;
    EXPECT_EQ(s.state.used, i);
    EXPECT_EQ(s.state.remaining(), 3 - i);
    EXPECT_EQ(s.state.limit, 3u);
    EXPECT_EQ(s.state.period, seconds(60));
    EXPECT_EQ(s.state.reset, seconds(20));
  }
  Budget::Spend refused = budget.TrySpend(now);
  EXPECT_FALSE(refused.admitted());
  EXPECT_EQ(refused.state.used, 3u);
  EXPECT_EQ(refused.state.remaining(), 0u);
  EXPECT_EQ(budget.Peek(now).used, 3u);
}

TEST(BudgetTest, ANewWindowStartsEmpty) {
  Budget budget(1, seconds(10));
  ASSERT_TRUE(budget.TrySpend(At(1005)).admitted());
  EXPECT_FALSE(budget.TrySpend(At(1009.9)).admitted());
  EXPECT_EQ(budget.Peek(At(1010)).used, 0u);
  Budget::Spend next = budget.TrySpend(At(1010));
  EXPECT_TRUE(next.admitted());
  EXPECT_EQ(next.state.used, 1u);
  EXPECT_EQ(next.state.window, 101u);
}

TEST(BudgetTest, ARefundGivesBackOnlyInItsOwnWindow) {
  Budget budget(2, seconds(10));
  Budget::Spend first = budget.TrySpend(At(1000));
  ASSERT_TRUE(budget.TrySpend(At(1001)).admitted());
  budget.Refund(first.state.window);
  EXPECT_EQ(budget.Peek(At(1002)).used, 1u);
  Budget::Spend later = budget.TrySpend(At(1011));
  budget.Refund(first.state.window);  // That window is over: nothing to give back.
  EXPECT_EQ(budget.Peek(At(1012)).used, later.state.used);
}

TEST(BudgetTest, AChangedLimitAppliesToTheCurrentWindow) {
  Budget budget(2, seconds(60));
  const auto now = At(6000);
  ASSERT_TRUE(budget.TrySpend(now).admitted());
  ASSERT_TRUE(budget.TrySpend(now).admitted());
  ASSERT_FALSE(budget.TrySpend(now).admitted());
  budget.set_limit(3);
  Budget::Spend third = budget.TrySpend(now);
  EXPECT_TRUE(third.admitted());
  EXPECT_EQ(third.state.used, 3u);
  EXPECT_FALSE(budget.TrySpend(now).admitted());
  budget.set_limit(1);  // Lowered below what is spent: refused, and nothing left.
  Budget::Spend lowered = budget.TrySpend(now);
  EXPECT_FALSE(lowered.admitted());
  EXPECT_EQ(lowered.state.remaining(), 0u);
}

TEST(BudgetTest, ExactAcrossThreads) {
  constexpr uint32_t kLimit = 1000;
  constexpr int kThreads = 8;
  constexpr int kTries = 500;
  Budget budget(kLimit, seconds(3600));
  const auto now = At(3600 * 1000 + 5);
  std::atomic<uint32_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kTries; ++i) {
        if (budget.TrySpend(now).admitted()) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_EQ(budget.Peek(now).used, kLimit);
}

}  // namespace
}  // namespace valet
