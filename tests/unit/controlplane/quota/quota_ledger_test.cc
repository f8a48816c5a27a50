// QuotaLedger: grants shrink towards the limit and never pass it, a small limit stays exact over
// three data planes, a new window starts afresh, late requests get nothing, and usage reports
// rebuild a window (a restarted control plane does not reset it); quota given back is granted
// again in the same window, never more than a data plane held.
#include "controlplane/quota/quota_ledger.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

v1::QuotaRequest Ask(uint32_t limit, uint64_t window, uint32_t want) {
  v1::QuotaRequest request;
  request.mutable_budget()->set_app("shop");
  request.mutable_budget()->set_limit(limit);
  request.mutable_budget()->set_period_seconds(60);
  request.set_window(window);
  request.set_want(want);
  return request;
}

TEST(QuotaLedgerTest, TheSeedsLimitOfTwoStaysExactOverThreeDataPlanes) {
  QuotaLedger ledger;
  for (const char* dp : {"a", "b", "c"}) ledger.Attached(dp);
  uint64_t total = 0;
  for (int round = 0; round < 3; ++round) {
    for (const char* dp : {"a", "b", "c"}) {
      v1::QuotaGrant grant = ledger.Grant(dp, Ask(2, 7, 10));
      EXPECT_LE(grant.granted(), 1u) << "near the limit, one request at a time";
      EXPECT_EQ(grant.data_planes(), 3u);
      total += grant.granted();
    }
  }
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(ledger.Grant("a", Ask(2, 7, 1)).granted(), 0u);
}

TEST(QuotaLedgerTest, GrantsShrinkAsTheWindowFillsAndNeverPassTheLimit) {
  QuotaLedger ledger;
  ledger.Attached("a");
  ledger.Attached("b");
  uint32_t previous = UINT32_MAX;
  uint64_t total = 0;
  for (int i = 0; i < 200 && total < 1000; ++i) {
    v1::QuotaGrant grant = ledger.Grant(i % 2 ? "a" : "b", Ask(1000, 3, 1000));
    ASSERT_GT(grant.granted(), 0u);
    EXPECT_LE(grant.granted(), previous);
    previous = grant.granted();
    total += grant.granted();
    EXPECT_EQ(grant.window_granted(), total);
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(previous, 1u);
  EXPECT_EQ(ledger.Grant("a", Ask(1000, 3, 5)).granted(), 0u);
  // The want caps a grant.
  EXPECT_EQ(ledger.Grant("a", Ask(1000, 4, 3)).granted(), 3u);
}

TEST(QuotaLedgerTest, ANewWindowStartsAfreshAndALateRequestGetsNothing) {
  QuotaLedger ledger;
  ledger.Attached("a");
  EXPECT_EQ(ledger.Grant("a", Ask(1, 10, 1)).granted(), 1u);
  EXPECT_EQ(ledger.Grant("a", Ask(1, 10, 1)).granted(), 0u);
  EXPECT_EQ(ledger.Grant("a", Ask(1, 11, 1)).granted(), 1u);
  v1::QuotaGrant late = ledger.Grant("a", Ask(1, 10, 1));
  EXPECT_EQ(late.granted(), 0u);
  EXPECT_EQ(late.window(), 10u);
}

TEST(QuotaLedgerTest, UsageReportsContinueTheWindow) {
  QuotaLedger ledger;  // A control plane that just started: it knows nothing of window 5.
  ledger.Attached("a");
  ledger.Attached("b");
  v1::UsageReport report;
  v1::UsageReport::Usage* usage = report.add_usage();
  *usage->mutable_budget() = Ask(10, 5, 1).budget();
  usage->set_window(5);
  usage->set_spent(6);
  ledger.Report("a", report);
  usage->set_spent(3);
  ledger.Report("b", report);
  ledger.Report("b", report);  // Reported twice: counted once.
  QuotaLedger::WindowState state;
  ASSERT_TRUE(ledger.Find(Ask(10, 5, 1).budget(), &state));
  EXPECT_EQ(state.granted, 9u);
  uint64_t more = 0;
  for (int i = 0; i < 10; ++i) more += ledger.Grant("a", Ask(10, 5, 5)).granted();
  EXPECT_EQ(more, 1u);
}

v1::QuotaReturn GiveBack(uint32_t limit, uint64_t window, uint32_t returned) {
  v1::QuotaReturn given_back;
  *given_back.mutable_budget() = Ask(limit, window, 1).budget();
  given_back.set_window(window);
  given_back.set_returned(returned);
  return given_back;
}

TEST(QuotaLedgerTest, QuotaGivenBackIsGrantedAgainInTheSameWindow) {
  QuotaLedger ledger;
  ledger.Attached("a");
  ledger.Attached("b");
  EXPECT_EQ(ledger.Grant("a", Ask(4, 9, 4)).granted(), 1u);  // max(1, 4 / (2 * 2))
  EXPECT_EQ(ledger.Grant("a", Ask(4, 9, 4)).granted(), 1u);
  EXPECT_EQ(ledger.Grant("b", Ask(4, 9, 4)).granted(), 1u);
  EXPECT_EQ(ledger.Grant("b", Ask(4, 9, 4)).granted(), 1u);
  EXPECT_EQ(ledger.Grant("b", Ask(4, 9, 4)).granted(), 0u) << "all four granted";

  ledger.Return("a", GiveBack(4, 9, 1));  // a spent one of its two.
  QuotaLedger::WindowState state;
  ASSERT_TRUE(ledger.Find(Ask(4, 9, 1).budget(), &state));
  EXPECT_EQ(state.granted, 3u);
  v1::QuotaGrant again = ledger.Grant("b", Ask(4, 9, 4));
  EXPECT_EQ(again.granted(), 1u);
  EXPECT_EQ(again.window_granted(), 4u);
  EXPECT_EQ(ledger.Grant("b", Ask(4, 9, 4)).granted(), 0u);
}

TEST(QuotaLedgerTest, AReturnNeverTakesBackMoreThanTheDataPlaneHeldNorFromAnotherWindow) {
  QuotaLedger ledger;
  ledger.Attached("a");
  ledger.Attached("b");
  EXPECT_EQ(ledger.Grant("a", Ask(100, 9, 5)).granted(), 5u);
  EXPECT_EQ(ledger.Grant("b", Ask(100, 9, 7)).granted(), 7u);
  ledger.Return("a", GiveBack(100, 9, 50));  // More than a held: only its 5.
  ledger.Return("c", GiveBack(100, 9, 3));   // Never granted anything.
  ledger.Return("b", GiveBack(100, 8, 7));   // A window that is over.
  QuotaLedger::WindowState state;
  ASSERT_TRUE(ledger.Find(Ask(100, 9, 1).budget(), &state));
  EXPECT_EQ(state.granted, 7u);
}

}  // namespace
}  // namespace valet
