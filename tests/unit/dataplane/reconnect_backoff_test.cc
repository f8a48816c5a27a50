#include "dataplane/reconnect_backoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace valet {
namespace {

constexpr absl::Duration kMin = absl::Milliseconds(100);
constexpr absl::Duration kMax = absl::Seconds(5);

// The step after `n` failures in a row: min * 2^n, capped.
absl::Duration Step(int n) {
  absl::Duration step = kMin;
  for (int i = 0; i < n && step < kMax; ++i) step *= 2;
  return std::min(step, kMax);
}

TEST(ReconnectBackoffTest, EveryWaitIsWithinMinAndCapAndInTheUpperHalfOfItsStep) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    ReconnectBackoff backoff(kMin, kMax, seed);
    for (int n = 1; n <= 40; ++n) {
      absl::Duration wait = backoff.NextDelay();
      ASSERT_GE(wait, kMin) << "seed " << seed << ", failure " << n;
      ASSERT_LE(wait, kMax) << "seed " << seed << ", failure " << n;
      ASSERT_LE(wait, Step(n)) << "seed " << seed << ", failure " << n;
      ASSERT_GE(wait, std::max(kMin, Step(n) / 2)) << "seed " << seed << ", failure " << n;
    }
  }
}

TEST(ReconnectBackoffTest, ReachesTheCapAndStaysBelowIt) {
  ReconnectBackoff backoff(kMin, kMax, 7);
  for (int n = 0; n < 10; ++n) backoff.NextDelay();
  // A control plane away for days: the wait neither overflows nor leaves [cap/2, cap].
  for (int n = 0; n < 100000; ++n) {
    absl::Duration wait = backoff.NextDelay();
    ASSERT_GE(wait, kMax / 2);
    ASSERT_LE(wait, kMax);
  }
}

TEST(ReconnectBackoffTest, ResetAfterAStreamWasUpStartsFromTheBottom) {
  ReconnectBackoff backoff(kMin, kMax, 3);
  for (int n = 0; n < 20; ++n) backoff.NextDelay();
  ASSERT_GE(backoff.NextDelay(), kMax / 2);
  backoff.Reset();
  absl::Duration first = backoff.NextDelay();
  EXPECT_GE(first, kMin);
  EXPECT_LE(first, 2 * kMin);
  absl::Duration second = backoff.NextDelay();
  EXPECT_GE(second, 2 * kMin);
  EXPECT_LE(second, 4 * kMin);
}

TEST(ReconnectBackoffTest, DataPlanesDoNotRetryInLockstep) {
  std::set<int64_t> waits;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    ReconnectBackoff backoff(kMin, kMax, seed);
    for (int n = 0; n < 9; ++n) backoff.NextDelay();
    waits.insert(absl::ToInt64Microseconds(backoff.NextDelay()));
  }
  EXPECT_GT(waits.size(), 15u);
}

TEST(ReconnectBackoffTest, EqualMinAndMaxIsAFixedWait) {
  ReconnectBackoff backoff(absl::Seconds(1), absl::Seconds(1), 1);
  for (int n = 0; n < 10; ++n) EXPECT_EQ(backoff.NextDelay(), absl::Seconds(1));
}

}  // namespace
}  // namespace valet
