// The pool against a real listening socket on 127.0.0.1: the connection cap, the bounded queue
// in front of it, hand-over of given-back connections, and idle connections that follow demand.
#include "dataplane/upstream/upstream_pool.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "boost/asio/ip/tcp.hpp"

namespace valet {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Result {
  boost::system::error_code ec;
  std::unique_ptr<UpstreamConnection> conn;
};

class UpstreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A listener that never accepts: the kernel completes handshakes into its backlog, which is
    // all a connect needs.
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen(64);
    endpoint_.host = "127.0.0.1";
    endpoint_.port = acceptor_.local_endpoint().port();
    endpoint_.address = asio::ip::make_address("127.0.0.1");
    endpoint_.key = "127.0.0.1:" + std::to_string(endpoint_.port);
  }

  UpstreamPool MakePool(PoolLimits limits) {
    return UpstreamPool(io_, std::chrono::seconds(30), limits, metrics_);
  }

  // Asks `pool` for a connection; the result lands in the returned slot.
  std::shared_ptr<std::optional<Result>> Connect(
      UpstreamPool& pool, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto slot = std::make_shared<std::optional<Result>>();
    pool.Connect(endpoint_, timeout,
                 [slot](boost::system::error_code ec, std::unique_ptr<UpstreamConnection> conn) {
                   slot->emplace(Result{ec, std::move(conn)});
                 });
    return slot;
  }

  // Runs the loop until every slot has a result, or 10 s pass.
  bool RunUntil(const std::vector<std::shared_ptr<std::optional<Result>>>& slots) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& s : slots) all = all && s->has_value();
      if (all) return true;
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Runs the loop for a moment: what is ready completes.
  void Poll() {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(50));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  EndpointSpec endpoint_;
  Metrics metrics_;
};

TEST_F(UpstreamPoolTest, CapsConnectionsAndQueuesTheRest) {
  UpstreamPool pool =
      MakePool({/*max_connections=*/2, /*max_pending=*/4, std::chrono::seconds(30)});
  auto a = Connect(pool);
  auto b = Connect(pool);
  auto c = Connect(pool);
  ASSERT_TRUE(RunUntil({a, b}));
  Poll();
  ASSERT_FALSE(a->value().ec);
  ASSERT_FALSE(b->value().ec);
  EXPECT_FALSE(c->has_value()) << "a third connection was opened past the cap of 2";
  EXPECT_EQ(pool.pending_count(), 1u);
  EXPECT_EQ(metrics_.upstream_pending().load(), 1);
  EXPECT_EQ(metrics_.upstream_connections_opened().load(), 2u);
  EXPECT_EQ(pool.EstablishedCount(endpoint_.key), 2u);

  // A connection given back goes to the waiter, warm: no new connect.
  UpstreamConnection* given = a->value().conn.get();
  pool.Release(std::move(a->value().conn), /*reusable=*/true);
  ASSERT_TRUE(RunUntil({c}));
  ASSERT_FALSE(c->value().ec);
  EXPECT_EQ(c->value().conn.get(), given);
  EXPECT_EQ(c->value().conn->uses, 1u);
  EXPECT_EQ(metrics_.upstream_connections_opened().load(), 2u);
  EXPECT_EQ(metrics_.upstream_pending().load(), 0);
}

TEST_F(UpstreamPoolTest, AClosedConnectionFreesItsSlotForAWaiter) {
  UpstreamPool pool = MakePool({1, 4, std::chrono::seconds(30)});
  auto a = Connect(pool);
  auto b = Connect(pool);
  ASSERT_TRUE(RunUntil({a}));
  Poll();
  EXPECT_FALSE(b->has_value());
  pool.Release(std::move(a->value().conn), /*reusable=*/false);
  ASSERT_TRUE(RunUntil({b}));
  ASSERT_FALSE(b->value().ec);
  EXPECT_EQ(b->value().conn->uses, 0u) << "the waiter should get a new connection";
  EXPECT_EQ(metrics_.upstream_connections_opened().load(), 2u);
}

TEST_F(UpstreamPoolTest, QueueFullIsRefusedAtOnce) {
  UpstreamPool pool = MakePool({1, 1, std::chrono::seconds(30)});
  auto a = Connect(pool);
  auto queued = Connect(pool);
  auto refused = Connect(pool);
  ASSERT_TRUE(RunUntil({a, refused}));
  EXPECT_EQ(refused->value().ec, make_error_code(PoolError::kQueueFull));
  EXPECT_EQ(refused->value().conn, nullptr);
  EXPECT_FALSE(queued->has_value());
}

TEST_F(UpstreamPoolTest, AWaiterGivesUpAfterTheQueueTimeout) {
  UpstreamPool pool = MakePool({1, 8, std::chrono::milliseconds(100)});
  auto a = Connect(pool);
  auto b = Connect(pool);
  auto c = Connect(pool);
  ASSERT_TRUE(RunUntil({a, b, c}));
  EXPECT_FALSE(a->value().ec);
  EXPECT_EQ(b->value().ec, make_error_code(PoolError::kQueueTimeout));
  EXPECT_EQ(c->value().ec, make_error_code(PoolError::kQueueTimeout));
  EXPECT_EQ(pool.pending_count(), 0u);
  EXPECT_EQ(metrics_.upstream_pending().load(), 0);
}

TEST_F(UpstreamPoolTest, IdleConnectionsFollowDemandWithoutChurn) {
  // 40 requests at a time, 10 rounds: 40 connections are opened once and then reused, however
  // many sit idle between rounds (no fixed idle cap below the connection cap).
  constexpr int kConcurrent = 40;
  UpstreamPool pool = MakePool({64, 64, std::chrono::seconds(30)});
  for (int round = 0; round < 10; ++round) {
    std::vector<std::unique_ptr<UpstreamConnection>> lent;
    std::vector<std::shared_ptr<std::optional<Result>>> slots;
    for (int i = 0; i < kConcurrent; ++i) {
      if (auto idle = pool.TakeIdle(endpoint_.key)) {
        lent.push_back(std::move(idle));
      } else {
        slots.push_back(Connect(pool));
      }
    }
    ASSERT_TRUE(RunUntil(slots));
    for (auto& s : slots) {
      ASSERT_FALSE(s->value().ec) << s->value().ec.message();
      lent.push_back(std::move(s->value().conn));
    }
    for (auto& conn : lent) pool.Release(std::move(conn), /*reusable=*/true);
    EXPECT_EQ(pool.idle_count(), static_cast<size_t>(kConcurrent));
  }
  EXPECT_EQ(metrics_.upstream_connections_opened().load(), static_cast<uint64_t>(kConcurrent));
}

TEST_F(UpstreamPoolTest, ARefusedConnectFreesItsSlot) {
  // A port nothing listens on: connects are refused, each frees its slot for the next waiter.
  tcp::acceptor probe(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  uint16_t closed_port = probe.local_endpoint().port();
  probe.close();
  endpoint_.port = closed_port;
  endpoint_.key = "127.0.0.1:" + std::to_string(closed_port);
  UpstreamPool pool = MakePool({1, 4, std::chrono::seconds(30)});
  auto a = Connect(pool);
  auto b = Connect(pool);
  ASSERT_TRUE(RunUntil({a, b}));
  EXPECT_TRUE(a->value().ec);
  EXPECT_TRUE(b->value().ec);
  EXPECT_NE(b->value().ec, make_error_code(PoolError::kQueueTimeout));
  EXPECT_EQ(pool.EstablishedCount(endpoint_.key), 0u);
}

TEST_F(UpstreamPoolTest, AConnectTimeoutWhileOthersAreUpWaitsInsteadOfFailing) {
  // A backend whose accept queue is full drops SYNs: connects time out although the backend
  // is up. Those requests wait for a connection given back instead of failing.
  tcp::acceptor tight(io_);
  tight.open(tcp::v4());
  tight.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tight.listen(1);  // Never accepted: one or two handshakes fit, the rest are dropped.
  endpoint_.port = tight.local_endpoint().port();
  endpoint_.key = "127.0.0.1:" + std::to_string(endpoint_.port);
  UpstreamPool pool = MakePool({8, 8, std::chrono::seconds(3)});
  std::vector<std::shared_ptr<std::optional<Result>>> slots;
  for (int i = 0; i < 5; ++i) slots.push_back(Connect(pool, std::chrono::milliseconds(200)));
  // Well past the connect timeout: the ones that got through are up, the rest wait.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  while (std::chrono::steady_clock::now() < until) Poll();
  std::unique_ptr<UpstreamConnection> up;
  size_t established = 0;
  for (auto& s : slots) {
    if (!s->has_value()) continue;
    ASSERT_FALSE(s->value().ec) << "a connect timeout failed a request: "
                                << s->value().ec.message();
    ++established;
    up = std::move(s->value().conn);
  }
  ASSERT_GE(established, 1u);
  ASSERT_LT(established, slots.size()) << "every handshake fit; the test needs a full queue";
  EXPECT_EQ(pool.pending_count(), slots.size() - established);
  // A connection given back goes to a waiter.
  pool.Release(std::move(up), /*reusable=*/true);
  Poll();
  size_t done = 0;
  for (auto& s : slots) done += s->has_value() ? 1 : 0;
  EXPECT_EQ(done, established + 1);
}

TEST_F(UpstreamPoolTest, ShareSplitsALimitOverWorkers) {
  EXPECT_EQ(PoolLimits::Share(1024, 2), 512u);
  EXPECT_EQ(PoolLimits::Share(5, 2), 3u);
  EXPECT_EQ(PoolLimits::Share(1, 4), 1u);
}

}  // namespace
}  // namespace valet
