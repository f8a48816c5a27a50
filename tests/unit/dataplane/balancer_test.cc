#include "dataplane/balancer.h"

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
  Balancer b(1);
  std::map<size_t, int> hits;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 400; ++i) hits[*b.Pick(app, {}, now)]++;
  EXPECT_EQ(hits[0], 100);
  EXPECT_EQ(hits[1], 300);
}

TEST(BalancerTest, LeastRequestPrefersTheLessLoaded) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1});
  Balancer b(7);
  b.StateOf(app.endpoints[0]).outstanding = 10;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(*b.Pick(app, {}, now), 1u);
}

TEST(BalancerTest, LeastRequestSpreadsWhenIdle) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1, 1});
  Balancer b(3);
  std::map<size_t, int> hits;
  auto now = Balancer::Clock::now();
  for (int i = 0; i < 300; ++i) hits[*b.Pick(app, {}, now)]++;
  EXPECT_EQ(hits.size(), 3u);
  for (auto& [i, n] : hits) EXPECT_GT(n, 50) << i;
}

TEST(BalancerTest, SkipsEjectedAndTriedEndpoints) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1, 1});
  Balancer b(5);
  auto now = Balancer::Clock::now();
  b.Eject(app.endpoints[0], now + std::chrono::seconds(5));
  for (int i = 0; i < 50; ++i) {
    size_t pick = *b.Pick(app, {2}, now);
    EXPECT_EQ(pick, 1u);
  }
  EXPECT_FALSE(b.Pick(app, {1, 2}, now).has_value());
  // The ejection ends.
  EXPECT_TRUE(b.Pick(app, {1, 2}, now + std::chrono::seconds(6)).has_value());
}

}  // namespace
}  // namespace valet

namespace valet {
namespace {

TEST(BalancerTest, RetainForgetsEndpointsNoLongerConfigured) {
  AppRoute app = MakeApp(BalancingPolicy::kLeastRequest, {1, 1});
  Balancer b(9);
  auto now = Balancer::Clock::now();
  b.Eject(app.endpoints[0], now + std::chrono::seconds(60));
  b.StateOf(app.endpoints[1]).outstanding = 3;
  b.Retain({});  // Nothing configured any more.
  // The idle, ejected endpoint is forgotten; the busy one keeps its count until it drains.
  EXPECT_EQ(b.StateOf(app.endpoints[0]).ejected_until, Balancer::Clock::time_point{});
  EXPECT_EQ(b.StateOf(app.endpoints[1]).outstanding, 3u);
}

}  // namespace
}  // namespace valet
