// The rate-limit header fields: the seed's three and the IETF draft's two, for one budget or two.
#include "dataplane/limits/rate_limit_fields.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

namespace http = boost::beast::http;
using std::chrono::seconds;

BudgetState State(uint32_t limit, uint32_t used, int period, int reset) {
  BudgetState s;
  s.limit = limit;
  s.used = used;
  s.period = seconds(period);
  s.reset = seconds(reset);
  return s;
}

http::fields Apply(const ResponseFields& fields) {
  http::fields out;
  fields.ApplyTo(out);
  return out;
}

TEST(RateLimitFieldsTest, OneBudget) {
  BudgetState app = State(10, 3, 60, 42);
  ResponseFields fields;
  SetRateLimitFields(&app, nullptr, fields);
  http::fields f = Apply(fields);
  EXPECT_EQ(f["X-Ratelimit-Used"], "3");
  EXPECT_EQ(f["X-Ratelimit-Remaining"], "7");
  EXPECT_EQ(f["X-Ratelimit-Reset"], "42");
  EXPECT_EQ(f["RateLimit-Policy"], "\"default\";q=10;w=60");
  EXPECT_EQ(f["RateLimit"], "\"default\";r=7;t=42");
}

TEST(RateLimitFieldsTest, TheConsumerBudgetBindsWhenItHasLessLeft) {
  BudgetState app = State(100, 10, 60, 42);
  BudgetState consumer = State(5, 4, 10, 2);
  ResponseFields fields;
  SetRateLimitFields(&app, &consumer, fields);
  http::fields f = Apply(fields);
  EXPECT_EQ(f["X-Ratelimit-Used"], "4");
  EXPECT_EQ(f["X-Ratelimit-Remaining"], "1");
  EXPECT_EQ(f["X-Ratelimit-Reset"], "2");
  EXPECT_EQ(f["RateLimit-Policy"], "\"default\";q=100;w=60, \"consumer\";q=5;w=10");
  EXPECT_EQ(f["RateLimit"], "\"default\";r=90;t=42, \"consumer\";r=1;t=2");
  EXPECT_EQ(&BindingBudget(&app, &consumer), &consumer);
  EXPECT_EQ(&BindingBudget(&app, nullptr), &app);
  BudgetState tighter = State(20, 10, 60, 1);
  EXPECT_EQ(&BindingBudget(&app, &tighter), &tighter);
  BudgetState roomy = State(1000, 0, 60, 1);
  EXPECT_EQ(&BindingBudget(&app, &roomy), &app);
}

TEST(RateLimitFieldsTest, ALoweredLimitShowsNothingRemaining) {
  BudgetState app = State(2, 5, 60, 1);
  ResponseFields fields;
  SetRateLimitFields(&app, nullptr, fields);
  http::fields f = Apply(fields);
  EXPECT_EQ(f["X-Ratelimit-Used"], "5");
  EXPECT_EQ(f["X-Ratelimit-Remaining"], "0");
}

}  // namespace
}  // namespace valet
