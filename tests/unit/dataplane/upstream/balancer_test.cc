#include "dataplane/upstream/balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace valet {
namespace {

AppRoute MakeApp(BalancingPolicy policy, std::vector<uint32_t> weights) {
  AppRoute app;
  app.name = "app";
  app.balancing = policy;
  for (size_t i = 0; i < weights.size(); ++i) {
    EndpointSpec ep;
    ep.host = "127.0.0.1";
    ep.port = static_cast<uint16_t>(9000 + i);
    ep.key = "127.0.0.1:" + std::to_string(ep.port);
    ep.weight = weights[i];
    app.endpoints.push_back(ep);
  }
  return app;
}

TEST(BalancerTest, RoundRobinFollowsWeights) {
  AppRoute app = MakeApp(BalancingPolicy::kRoundRobin, {1, 3});
  Balancer b(1, OutlierPolicy{});
  std::map<size_t, int> hits;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 400; ++i) hits[b.Pick(app, {}, now)->index]++;
  EXPECT_EQ(hits[0], 100);
  EXPECT_EQ(hits[1], 300);
}

TEST(BalancerTest, LeastRequestPrefersTheLessLoaded) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1});
  Balancer b(7, OutlierPolicy{});
  b.StateOf(app.endpoints[0]).outstanding = 10;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.Pick(app, {}, now)->index, 1u);
}

TEST(BalancerTest, LeastRequestSpreadsWhenIdle) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1, 1});
  Balancer b(3, OutlierPolicy{});
  std::map<size_t, int> hits;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 300; ++i) hits[b.Pick(app, {}, now)->index]++;
  EXPECT_EQ(hits.size(), 3u);
  for (auto& [i, n] : hits) EXPECT_GT(n, 50) << i;
}

// Ejects `ep` the way the request path does: consecutive failures up to the policy's count.
void Eject(Balancer& b, const EndpointSpec& ep, const OutlierPolicy& policy,
           Balancer::Clock::time_point now) {
  for (uint32_t i = 1; i < policy.consecutive_failures; ++i) ASSERT_FALSE(b.RecordFailure(ep, now));
  ASSERT_TRUE(b.RecordFailure(ep, now));
}

TEST(BalancerTest, SkipsEjectedAndTriedEndpoints) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1, 1});
  OutlierPolicy policy{3, std::chrono::seconds(5)};
  Balancer b(5, policy);
  auto now = Balancer::Clock::now();
  Eject(b, app.endpoints[0], policy, now);
  for (int i = 0; i < 50; ++i) {
    auto pick = b.Pick(app, {2}, now);
    ASSERT_TRUE(pick.has_value());
    EXPECT_EQ(pick->index, 1u);
    EXPECT_FALSE(pick->panic);
  }
  EXPECT_FALSE(b.Pick(app, {0, 1, 2}, now).has_value());
  // The ejection ends.
  auto later = b.Pick(app, {1, 2}, now + std::chrono::seconds(6));
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->index, 0u);
  EXPECT_FALSE(later->panic);
}

TEST(BalancerTest, EjectsOnlyAfterConsecutiveFailures) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1});
  OutlierPolicy policy{3, std::chrono::seconds(5)};
  Balancer b(11, policy);
  auto now = Balancer::Clock::now();
  const EndpointSpec& ep = app.endpoints[0];
  EXPECT_FALSE(b.RecordFailure(ep, now));
  EXPECT_FALSE(b.RecordFailure(ep, now));
  // A success ends the streak: two more failures do not eject.
  b.RecordSuccess(b.StateOf(ep));
  EXPECT_FALSE(b.RecordFailure(ep, now));
  EXPECT_FALSE(b.RecordFailure(ep, now));
  for (int i = 0; i < 20; ++i) {
    std::optional<Balancer::Choice> pick = b.Pick(app, {1}, now);
    ASSERT_TRUE(pick.has_value());
    EXPECT_EQ(pick->index, 0u);
    EXPECT_FALSE(pick->panic);
  }
  EXPECT_TRUE(b.RecordFailure(ep, now));
  EXPECT_GT(b.StateOf(ep).ejected_until, now);
  // Failures while ejected do not eject it again.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.RecordFailure(ep, now));
}

TEST(BalancerTest, PanicModeUsesEjectedEndpointsRatherThanNone) {
  AppRoute app = MakeApp(BalancingPolicy::kRoundRobin, {1, 1});
  OutlierPolicy policy{1, std::chrono::seconds(60)};
  Balancer b(13, policy);
  auto now = Balancer::Clock::now();
  Eject(b, app.endpoints[0], policy, now);
  // One healthy endpoint left: only it is used.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Pick(app, {}, now)->index, 1u);
  Eject(b, app.endpoints[1], policy, now);
  // Every endpoint ejected: both are used again, each pick flagged.
  std::map<size_t, int> hits;
  for (int i = 0; i < 10; ++i) {
    std::optional<Balancer::Choice> pick = b.Pick(app, {}, now);
    ASSERT_TRUE(pick.has_value());
    EXPECT_TRUE(pick->panic);
    hits[pick->index]++;
  }
  EXPECT_EQ(hits[0], 5);
  EXPECT_EQ(hits[1], 5);
  // An app of one ejected endpoint still sends to it.
  AppRoute single = MakeApp(BalancingPolicy::kLeastRequest, {1});
  single.endpoints[0].port = 9100;
  single.endpoints[0].key = "127.0.0.1:9100";
  Eject(b, single.endpoints[0], policy, now);
  std::optional<Balancer::Choice> pick = b.Pick(single, {}, now);
  ASSERT_TRUE(pick.has_value());
  EXPECT_TRUE(pick->panic);
  // ... but not twice for one request.
  EXPECT_FALSE(b.Pick(single, {0}, now).has_value());
}

TEST(BalancerTest, RetainForgetsEndpointsNoLongerConfigured) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1});
  OutlierPolicy policy{1, std::chrono::seconds(60)};
  Balancer b(9, policy);
  auto now = Balancer::Clock::now();
  Eject(b, app.endpoints[0], policy, now);
  b.StateOf(app.endpoints[1]).outstanding = 3;
  b.Retain({});  // Nothing configured any more.
  // The idle, ejected endpoint is forgotten; the busy one keeps its count until it drains.
  EXPECT_EQ(b.StateOf(app.endpoints[0]).ejected_until, Balancer::Clock::time_point{});
  EXPECT_EQ(b.StateOf(app.endpoints[1]).outstanding, 3u);
}

}  // namespace
}  // namespace valet
