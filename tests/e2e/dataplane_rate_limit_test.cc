// A standalone data plane enforces an app's rate limit exactly across its workers: the five
// rate-limit fields on every answer of a limited app (the backend's, the gateway's errors, 429),
// backend fields of the same names replaced, budgets kept across a swap that leaves the app's
// limit alone, a changed limit applied at once, fresh windows, and the Prometheus counters.
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "common/fixed_window.h"
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

std::string Limited(uint32_t limit, uint32_t period) {
  return absl::StrCat(R"("rateLimit": true, "limitValue": )", limit, R"(, "limitPeriodSeconds": )",
                      period, ",");
}

int64_t SecondsToWindowEnd(uint32_t period) {
  return WindowAt(WallClock::now(), std::chrono::seconds(period)).reset.count();
}

class RateLimitTest : public DataplaneTest {
 protected:
  void SetUp() override {
    backend_ = StartBackend("one");
    ASSERT_NE(backend_, nullptr);
  }

  // Waits (at most one period) until the current window has `seconds` left, so that a test that
  // counts within one window does not straddle two.
  void WaitForWindowRoom(uint32_t period, int64_t seconds) {
    ASSERT_TRUE(
        WaitFor([&] { return SecondsToWindowEnd(period) >= seconds; }, absl::Seconds(period + 5)));
  }

  // Rewrites `name` and waits until the data plane serves the reload (version `version`).
  void Reload(const std::string& name, const std::string& json, int version) {
    WriteApp(name, json);
    ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
    std::string served = absl::StrCat("serving config version ", version, " ");
    ASSERT_TRUE(
        WaitFor([&] { return absl::StrContains(dataplane_->Log(), served); }, absl::Seconds(10)))
        << dataplane_->Log();
  }

  // The answer carries each rate-limit field once, with these values; Reset within the window.
  static void ExpectFields(const HttpResponse& res, uint32_t limit, uint32_t used,
                           uint32_t period) {
    for (const char* name : {"X-Ratelimit-Used", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
                             "RateLimit-Policy", "RateLimit"}) {
      EXPECT_EQ(CountFields(res.fields, name), 1u) << name;
    }
    EXPECT_EQ(res.Header("X-Ratelimit-Used"), absl::StrCat(used));
    uint32_t remaining = used < limit ? limit - used : 0;
    EXPECT_EQ(res.Header("X-Ratelimit-Remaining"), absl::StrCat(remaining));
    std::string reset = res.Header("X-Ratelimit-Reset");
    int64_t reset_s = std::strtoll(reset.c_str(), nullptr, 10);
    EXPECT_GE(reset_s, 1) << reset;
    EXPECT_LE(reset_s, period) << reset;
    EXPECT_LE(std::llabs(reset_s - SecondsToWindowEnd(period)), 2) << reset;
    EXPECT_EQ(res.Header("RateLimit-Policy"), absl::StrCat("\"default\";q=", limit, ";w=", period));
    EXPECT_EQ(res.Header("RateLimit"), absl::StrCat("\"default\";r=", remaining, ";t=", reset));
  }

  std::unique_ptr<TestBackend> backend_;
};

TEST_F(RateLimitTest, EveryAnswerCarriesTheFieldsAndARefusalIs429WithRetryAfter) {
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(3, 3600)));
  StartDataplane();
  WaitForWindowRoom(3600, 30);
  HttpClient client = Client();
  for (uint32_t used = 1; used <= 3; ++used) {
    auto res = client.Get("/shop/x");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
    ExpectFields(*res, 3, used, 3600);
    EXPECT_TRUE(res->Header("Retry-After").empty());
  }
  auto refused = client.Get("/shop/x");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 429, "rate_limited");
  EXPECT_TRUE(absl::StrContains(refused->body, "limit exceeded")) << refused->body;
  EXPECT_TRUE(absl::StrContains(refused->body, "\"app\":\"shop\"")) << refused->body;
  ExpectFields(*refused, 3, 3, 3600);
  EXPECT_EQ(refused->Header("Retry-After"), refused->Header("X-Ratelimit-Reset"));
  EXPECT_TRUE(refused->keep_alive) << "a refusal keeps the connection";
  EXPECT_EQ(backend_->request_count(), 3u) << "a refused request never reaches the backend";

  EXPECT_TRUE(WaitForMetric(R"(valet_ratelimit_admitted_total{app="shop"})", 3));
  EXPECT_TRUE(WaitForMetric(R"(valet_ratelimit_refused_total{app="shop"})", 1));
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="shop",class="4xx"})", 1));
}

TEST_F(RateLimitTest, BackendFieldsOfTheSameNamesAreReplacedNotDuplicated) {
  backend_->SetHandler([](const RecordedRequest&) {
    return BackendReply::Respond(200, "ok",
                                 {{"X-Ratelimit-Used", "77"},
                                  {"X-RateLimit-Remaining", "999"},
                                  {"x-ratelimit-reset", "5"},
                                  {"RateLimit-Policy", "\"backend\";q=1000;w=1"},
                                  {"RateLimit", "\"backend\";r=999;t=1"},
                                  {"X-Own", "kept"}});
  });
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(5, 3600)));
  StartDataplane();
  WaitForWindowRoom(3600, 30);
  auto res = Client().Get("/shop/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
  ExpectFields(*res, 5, 1, 3600);
  EXPECT_EQ(res->Header("X-Own"), "kept");
}

TEST_F(RateLimitTest, GatewayErrorsOfALimitedAppCarryTheFieldsAndAnOpenAppHasNone) {
  std::unique_ptr<TestBackend> gone = StartBackend("gone");
  ASSERT_NE(gone, nullptr);
  int closed_port = gone->port();
  gone.reset();  // Nothing listens there any more: the gateway answers 502.
  WriteApp("down", AppJson("down", {closed_port}, Limited(4, 3600)));
  WriteApp("open", AppJson("open", {backend_->port()}));
  StartDataplane();
  WaitForWindowRoom(3600, 30);
  HttpClient client = Client();
  auto res = client.Get("/down/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 502, "upstream_unreachable");
  ExpectFields(*res, 4, 1, 3600);

  auto open = client.Get("/open/x");
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(open->status, 200);
  for (const char* name : {"X-Ratelimit-Used", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
                           "RateLimit-Policy", "RateLimit"}) {
    EXPECT_EQ(CountFields(open->fields, name), 0u) << name;
  }
  auto unknown = client.Get("/nosuchapp/x");
  ASSERT_TRUE(unknown.ok());
  EXPECT_GATEWAY_ERROR(*unknown, 404, "unknown_app");
  EXPECT_TRUE(unknown->Header("X-Ratelimit-Used").empty()) << "no app, no limit to tell";
}

TEST_F(RateLimitTest, ASwapThatLeavesTheLimitAloneKeepsWhatWasSpent) {
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(3, 3600)));
  StartDataplane();
  WaitForWindowRoom(3600, 60);
  HttpClient client = Client();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(client.Get("/shop/x")->status, 200);

  Reload("other", AppJson("other", {backend_->port()}), 2);  // Another app changes.
  auto third = client.Get("/shop/x");
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->status, 200);
  ExpectFields(*third, 3, 3, 3600);
  auto refused = client.Get("/shop/x");
  ASSERT_TRUE(refused.ok());
  EXPECT_GATEWAY_ERROR(*refused, 429, "rate_limited");
}

TEST_F(RateLimitTest, AChangedLimitAppliesToTheCurrentWindowAtOnce) {
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(2, 3600)));
  StartDataplane();
  WaitForWindowRoom(3600, 60);
  HttpClient client = Client();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(client.Get("/shop/x")->status, 200);
  ASSERT_EQ(client.Get("/shop/x")->status, 429);

  Reload("shop", AppJson("shop", {backend_->port()}, Limited(4, 3600)), 2);  // Raised.
  auto raised = client.Get("/shop/x");
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(raised->status, 200);
  ExpectFields(*raised, 4, 3, 3600);
  ASSERT_EQ(client.Get("/shop/x")->status, 200);
  auto full = client.Get("/shop/x");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->status, 429);
  ExpectFields(*full, 4, 4, 3600);

  Reload("shop", AppJson("shop", {backend_->port()}, Limited(1, 3600)), 3);  // Lowered.
  auto lowered = client.Get("/shop/x");
  ASSERT_TRUE(lowered.ok());
  EXPECT_EQ(lowered->status, 429);
  EXPECT_EQ(lowered->Header("X-Ratelimit-Remaining"), "0");
  EXPECT_EQ(lowered->Header("RateLimit-Policy"), "\"default\";q=1;w=3600");
}

TEST_F(RateLimitTest, ExactAcrossWorkersWithConcurrentClients) {
  constexpr int kLimit = 60;
  constexpr int kClients = 6;
  constexpr int kPerClient = 25;  // 150 requests for a limit of 60.
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(kLimit, 3600)));
  StartDataplane({"--workers", "4"});
  WaitForWindowRoom(3600, 60);
  std::atomic<int> admitted{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kPerClient; ++i) {
        HttpClient client = Client();  // A connection per request: spread over the workers.
        auto res = client.Get("/shop/x");
        if (res.ok() && res->status == 200) {
          ++admitted;
        } else if (res.ok() && res->status == 429) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_EQ(refused.load(), kClients * kPerClient - kLimit);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(backend_->request_count(), static_cast<size_t>(kLimit));
  EXPECT_TRUE(WaitForMetric(R"(valet_ratelimit_admitted_total{app="shop"})", kLimit));
  EXPECT_TRUE(WaitForMetric(R"(valet_ratelimit_refused_total{app="shop"})",
                            kClients * kPerClient - kLimit));
}

TEST_F(RateLimitTest, ANewWindowStartsWithTheWholeBudget) {
  WriteApp("shop", AppJson("shop", {backend_->port()}, Limited(2, 1)));
  StartDataplane();
  HttpClient client = Client();
  // Spend the whole budget of some window: a refusal shows it is spent.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = client.Get("/shop/x");
        return res.ok() && res->status == 429;
      },
      absl::Seconds(10)));
  std::optional<HttpResponse> fresh;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = client.Get("/shop/x");
        if (!res.ok() || res->status != 200) return false;
        fresh = *res;
        return true;
      },
      absl::Seconds(10)));
  EXPECT_EQ(fresh->Header("X-Ratelimit-Used"), "1");
  EXPECT_EQ(fresh->Header("X-Ratelimit-Remaining"), "1");
  EXPECT_EQ(fresh->Header("X-Ratelimit-Reset"), "1");
  EXPECT_EQ(fresh->Header("RateLimit-Policy"), "\"default\";q=2;w=1");
}

}  // namespace
}  // namespace valet::testing

namespace valet::testing {
namespace {

// Auth and limits together: each consumer with a limit of its own spends its own budget (and the
// app's); the binding budget is in the X- fields, both in the IETF ones; a 401 carries the app's
// fields and spends nothing.
TEST_F(RateLimitTest, ConsumersSpendTheirOwnBudgetsAndA401SpendsNothing) {
  const std::string kAliceKey = "alice-key-1";
  const std::string kBobKey = "bob-key-2";
  WriteApp(
      "shop",
      AppJson("shop", {backend_->port()},
              absl::StrCat(R"("authorize": true, "consumers": [)", R"({"name": "alice", "key": ")",
                           kAliceKey, R"(", "limitValue": 2, "limitPeriodSeconds": 3600},)",
                           R"({"name": "bob", "key": ")", kBobKey, R"("}], )", Limited(10, 3600))));
  StartDataplane();
  WaitForWindowRoom(3600, 30);
  HttpClient client = Client();
  auto as = [&](const std::string& key) {
    return client.Send("GET", "/shop/x", {{"X-Valet-Auth", key}});
  };

  // No key: 401, with the app's fields, and the budget untouched.
  auto denied = client.Get("/shop/x");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_GATEWAY_ERROR(*denied, 401, "missing_credentials");
  EXPECT_EQ(denied->Header("X-Ratelimit-Used"), "0");
  EXPECT_EQ(denied->Header("X-Ratelimit-Remaining"), "10");

  // Alice: her own budget of 2 binds before the app's 10.
  for (int used = 1; used <= 2; ++used) {
    auto res = as(kAliceKey);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->Header("X-Ratelimit-Used"), absl::StrCat(used));
    EXPECT_EQ(res->Header("X-Ratelimit-Remaining"), absl::StrCat(2 - used));
    EXPECT_TRUE(absl::StrContains(res->Header("RateLimit-Policy"), "\"default\";q=10;w=3600"))
        << res->Header("RateLimit-Policy");
    EXPECT_TRUE(absl::StrContains(res->Header("RateLimit-Policy"), "\"consumer\";q=2;w=3600"))
        << res->Header("RateLimit-Policy");
  }
  auto refused = as(kAliceKey);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 429, "rate_limited");
  EXPECT_FALSE(refused->Header("Retry-After").empty());

  // Bob has no budget of his own: he spends the app's, which Alice's refusal did not touch.
  auto bob = as(kBobKey);
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(bob->status, 200) << bob->body;
  EXPECT_EQ(bob->Header("X-Ratelimit-Used"), "3");
  EXPECT_EQ(bob->Header("X-Ratelimit-Remaining"), "7");
  EXPECT_EQ(backend_->request_count(), 3u);
  EXPECT_TRUE(WaitForMetric(R"(valet_ratelimit_refused_total{app="shop"})", 1));
}

}  // namespace
}  // namespace valet::testing
