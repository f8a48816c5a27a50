// Mocks (docs/mocks.md) through the real data plane: whole-app mock mode, the per-request header,
// delays that do not hold up other requests, and the JSON 404 of an unmatched path.
#include <atomic>
#include <thread>

#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

constexpr char kMocks[] = R"("mocks": [
    {"method": "GET", "path": "/users/{id}", "json": {"id": 7, "name": "Ada"}},
    {"method": "POST", "path": "/orders", "status": 201, "text": "created",
     "headers": [{"name": "X-Order", "value": "42"}]},
    {"path": "/static/*", "text": "<p>hi</p>",
     "headers": [{"name": "Content-Type", "value": "text/html"}]}
  ],)";

class MocksTest : public DataplaneTest {};

TEST_F(MocksTest, MockModeAnswersEveryRequestFromTheTable) {
  auto backend = StartBackend("real");
  WriteApp("shop",
           AppJson("shop", {backend->port()}, absl::StrCat(kMocks, R"("mockMode": true,)")));
  StartDataplane();
  HttpClient client = Client();

  auto user = client.Get("/shop/users/7");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->status, 200);
  EXPECT_EQ(user->body, R"({"id":7,"name":"Ada"})");
  EXPECT_EQ(user->Header("Content-Type"), "application/json");
  EXPECT_EQ(user->Header("X-Valet-Mock"), "true");

  auto order = client.Send("POST", "/shop/orders", {{"Content-Type", "text/plain"}}, "one book");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->status, 201);
  EXPECT_EQ(order->body, "created");
  EXPECT_EQ(order->Header("X-Order"), "42");
  EXPECT_EQ(order->Header("Content-Type"), "text/plain; charset=utf-8");

  // Any method, any depth under the wildcard; the mock's own Content-Type wins.
  auto page = client.Send("DELETE", "/shop/static/a/b.html");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->Header("Content-Type"), "text/html");

  // HEAD gets the GET mock's header and length, no body.
  auto head = client.Send("HEAD", "/shop/users/7");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "21");
  EXPECT_EQ(head->body, "");

  // The method is part of the match; an unmatched request gets the JSON 404, not the backend.
  auto wrong_method = client.Send("PUT", "/shop/users/7");
  ASSERT_TRUE(wrong_method.ok()) << wrong_method.status();
  EXPECT_GATEWAY_ERROR(*wrong_method, 404, "no_mock");
  auto unmatched = client.Get("/shop/users/7/orders");
  ASSERT_TRUE(unmatched.ok()) << unmatched.status();
  EXPECT_GATEWAY_ERROR(*unmatched, 404, "no_mock");
  EXPECT_NE(unmatched->body.find("GET /users/7/orders"), std::string::npos) << unmatched->body;
  EXPECT_TRUE(unmatched->reused_connection);

  EXPECT_EQ(backend->request_count(), 0u);
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="shop",class="2xx"})", 4));
}

TEST_F(MocksTest, MockModeWithoutMocksAnswers404Everywhere) {
  auto backend = StartBackend("real");
  WriteApp("empty", AppJson("empty", {backend->port()}, R"("mockMode": true,)"));
  StartDataplane();
  HttpClient client = Client();
  for (const char* target : {"/empty", "/empty/", "/empty/x/y?z=1"}) {
    auto res = client.Get(target);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GATEWAY_ERROR(*res, 404, "no_mock");
  }
  EXPECT_EQ(backend->request_count(), 0u);
}

TEST_F(MocksTest, HeaderAsksForTheMockOfOneRequest) {
  auto backend = StartBackend("real");
  WriteApp("shop",
           AppJson("shop", {backend->port()}, absl::StrCat(kMocks, R"("mockHeader": true,)")));
  // Mocks, but no mock mode and no header allowed: the mocks are never used.
  WriteApp("plain", AppJson("plain", {backend->port()}, kMocks));
  StartDataplane();
  HttpClient client = Client();

  auto real = client.Get("/shop/users/7");
  ASSERT_TRUE(real.ok()) << real.status();
  EXPECT_EQ(real->status, 200);
  EXPECT_EQ(real->Header("X-Backend-Name"), "real");
  EXPECT_EQ(real->Header("X-Valet-Mock"), "");

  for (const char* value : {"1", "true", "TRUE"}) {
    auto mocked = client.Get("/shop/users/7", {{"X-Valet-Mock", value}});
    ASSERT_TRUE(mocked.ok()) << mocked.status();
    EXPECT_EQ(mocked->body, R"({"id":7,"name":"Ada"})") << value;
    EXPECT_EQ(mocked->Header("X-Valet-Mock"), "true");
  }
  // Any other value does not ask.
  auto zero = client.Get("/shop/users/7", {{"X-Valet-Mock", "0"}});
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_EQ(zero->Header("X-Backend-Name"), "real");

  // Asked for, but none matches: the JSON 404 (the caller wanted a mock, not the backend).
  auto unmatched = client.Get("/shop/nothing", {{"X-Valet-Mock", "1"}});
  ASSERT_TRUE(unmatched.ok()) << unmatched.status();
  EXPECT_GATEWAY_ERROR(*unmatched, 404, "no_mock");

  auto ignored = client.Get("/plain/users/7", {{"X-Valet-Mock", "1"}});
  ASSERT_TRUE(ignored.ok()) << ignored.status();
  EXPECT_EQ(ignored->Header("X-Backend-Name"), "real");
  EXPECT_EQ(backend->request_count(), 3u);
}

TEST_F(MocksTest, DelayedMockDoesNotHoldUpTheWorker) {
  auto backend = StartBackend("real");
  WriteApp("slow", AppJson("slow", {backend->port()}, R"("mockMode": true, "mocks": [
      {"path": "/slow", "text": "late", "delayMs": 3000},
      {"path": "/fast", "text": "now"}],)"));
  StartDataplane({"--workers", "1"});

  std::atomic<bool> slow_done{false};
  absl::StatusOr<HttpResponse> slow_res = absl::UnknownError("not run");
  absl::Time slow_start = absl::Now();
  std::thread slow([&] {
    HttpClient client = Client();
    slow_res = client.Get("/slow/slow");
    slow_done = true;
  });
  // While the one worker holds the delayed answer, it still answers others at once.
  ASSERT_TRUE(WaitForMetric(R"(valet_active_connections)", 1));
  HttpClient client = Client();
  auto fast = client.Get("/slow/fast");
  bool slow_done_when_fast_answered = slow_done;
  slow.join();
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ(fast->body, "now");
  EXPECT_FALSE(slow_done_when_fast_answered);
  ASSERT_TRUE(slow_res.ok()) << slow_res.status();
  EXPECT_EQ(slow_res->body, "late");
  EXPECT_EQ(slow_res->Header("X-Valet-Mock"), "true");
  EXPECT_GE(absl::Now() - slow_start, absl::Milliseconds(3000));
}

TEST_F(MocksTest, ClientLeavingDuringADelayHarmsNothing) {
  auto backend = StartBackend("real");
  WriteApp("slow", AppJson("slow", {backend->port()}, R"("mockMode": true, "mocks": [
      {"path": "/slow", "text": "late", "delayMs": 1000}],)"));
  StartDataplane();
  {
    HttpClient client = Client(absl::Milliseconds(100));
    auto res = client.Get("/slow/slow");
    EXPECT_FALSE(res.ok());
  }
  // The data plane lives on and answers the next one.
  HttpClient client = Client();
  auto res = client.Get("/slow/slow");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->body, "late");
}

}  // namespace
}  // namespace valet::testing

namespace valet::testing {
namespace {

// The stages before the handler apply to mocked answers: no key is 401, and a mocked answer
// spends the app's budget and carries its fields; past the limit, 429.
TEST_F(MocksTest, AuthAndTheRateLimitApplyToMockedAnswers) {
  auto backend = StartBackend("real");
  WriteApp("shop", AppJson("shop", {backend->port()},
                           absl::StrCat(kMocks, R"("mockMode": true, "authorize": true,)",
                                        R"("authKey": "shop-key", "rateLimit": true,)",
                                        R"("limitValue": 2, "limitPeriodSeconds": 3600,)")));
  StartDataplane();
  HttpClient client = Client();
  auto denied = client.Get("/shop/users/7");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_GATEWAY_ERROR(*denied, 401, "missing_credentials");
  EXPECT_TRUE(denied->Header("X-Valet-Mock").empty());
  for (int used = 1; used <= 2; ++used) {
    auto res = client.Get("/shop/users/7", {{"X-Valet-Auth", "shop-key"}});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->Header("X-Valet-Mock"), "true");
    EXPECT_EQ(res->Header("X-Ratelimit-Used"), absl::StrCat(used));
  }
  auto refused = client.Get("/shop/users/7", {{"X-Valet-Auth", "shop-key"}});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 429, "rate_limited");
  EXPECT_EQ(backend->request_count(), 0u);
}

}  // namespace
}  // namespace valet::testing
