// Fan-out routes end to end: the real data plane on a conf dir, real backends, real sockets.
#include <gmock/gmock.h>

#include <atomic>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

// A backend that answers every request with `json` (200, application/json).
Handler JsonReply(std::string json) {
  return [json](const RecordedRequest&) { return BackendReply::Json(200, json); };
}

std::string Url(const TestBackend& backend) { return "http://" + backend.host_port(); }

// `"routes": [...],` for AppJson: one route with the given backends (JSON objects).
std::string Routes(const std::string& method, const std::string& path,
                   const std::vector<std::string>& backends, const std::string& collision = "") {
  return absl::StrCat(R"("routes": [{"method": ")", method, R"(", "path": ")", path, R"(", )",
                      collision.empty() ? "" : absl::StrCat(R"("collision": ")", collision, "\", "),
                      R"("backends": [)", absl::StrJoin(backends, ", "), "]}],");
}

std::string UrlLeg(const TestBackend& b, const std::string& extra = "") {
  return absl::StrCat(R"({"url": ")", Url(b), "\"", extra, "}");
}

Json Parse(const HttpResponse& res) {
  Json j = Json::parse(res.body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << res.body;
  return j;
}

class FanoutTest : public DataplaneTest {
 protected:
  // The app "agg": its own endpoint (for requests that match no route) is `fallback_`.
  void WriteAgg(const std::string& routes, const std::string& extra = "") {
    if (!fallback_) fallback_ = StartBackend("fallback");
    WriteApp("agg", AppJson("agg", {fallback_->port()}, routes + extra));
  }

  std::unique_ptr<TestBackend> fallback_;
};

TEST_F(FanoutTest, MergesThreeLegsAndSendsTheBodyToEach) {
  auto a = StartBackend("a", JsonReply(R"({"user": {"id": 7}})"));
  auto b = StartBackend("b", JsonReply(R"({"orders": [1, 2]})"));
  auto c = StartBackend("c", JsonReply(R"({"score": 0.5})"));
  WriteAgg(Routes("POST", "/user/{id}", {UrlLeg(*a), UrlLeg(*b), UrlLeg(*c)}));
  StartDataplane();

  auto res = Client().Send("POST", "/agg/user/7", {{"Content-Type", "application/json"}},
                           R"({"hello": 1})");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_EQ(Parse(*res), Json::parse(R"({"user": {"id": 7}, "orders": [1, 2], "score": 0.5})"));
  EXPECT_EQ(res->Header("X-Valet-Missing"), "");
  for (TestBackend* backend : {a.get(), b.get(), c.get()}) {
    ASSERT_EQ(backend->request_count(), 1u) << backend->name();
    RecordedRequest seen = backend->requests()[0];
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.target, "/user/7");
    EXPECT_EQ(seen.body, R"({"hello": 1})");
    EXPECT_EQ(seen.Header("Content-Type"), "application/json");
    EXPECT_EQ(seen.Header("Host"), backend->host_port());
  }
  EXPECT_EQ(fallback_->request_count(), 0u);
  EXPECT_TRUE(WaitForMetric(absl::StrCat(R"(valet_fanout_legs_total{app="agg",backend=")",
                                         a->host_port(), R"(",outcome="ok"})"),
                            1));
}

TEST_F(FanoutTest, GroupsPutEachAnswerUnderItsKey) {
  auto a = StartBackend("a", JsonReply(R"({"id": 7, "name": "ann"})"));
  auto b = StartBackend("b", JsonReply(R"([{"id": 1}, {"id": 2}])"));
  auto c = StartBackend("c", JsonReply(R"({"vip": true})"));
  WriteAgg(Routes("GET", "/user/{id}",
                  {UrlLeg(*a, R"(, "group": "user")"), UrlLeg(*b, R"(, "group": "orders")"),
                   UrlLeg(*c, R"(, "group": "user")")}));
  StartDataplane();
  auto res = Client().Get("/agg/user/7");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Parse(*res), Json::parse(R"({"user": {"id": 7, "name": "ann", "vip": true},
                                         "orders": [{"id": 1}, {"id": 2}]})"));
}

TEST_F(FanoutTest, EachCollisionPolicy) {
  auto a = StartBackend("a", JsonReply(R"({"id": 1, "a": true})"));
  auto b = StartBackend("b", JsonReply(R"({"id": 2, "b": true})"));
  std::string legs = absl::StrCat("[", UrlLeg(*a, R"(, "name": "left")"), ", ",
                                  UrlLeg(*b, R"(, "name": "right")"), "]");
  WriteApp(
      "agg",
      AppJson("agg", {a->port()},
              absl::StrCat(R"("routes": [)", R"({"path": "/error", "backends": )", legs, "},",
                           R"({"path": "/first", "collision": "first", "backends": )", legs, "},",
                           R"({"path": "/last", "collision": "last", "backends": )", legs, "}],")));
  StartDataplane();
  HttpClient client = Client();

  auto error = client.Get("/agg/error");
  ASSERT_TRUE(error.ok()) << error.status();
  EXPECT_GATEWAY_ERROR(*error, 502, "fanout_key_collision");
  EXPECT_THAT(error->body, HasSubstr(R"(\"id\" (backends \"left\" and \"right\"))"));

  auto first = client.Get("/agg/first");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(Parse(*first), Json::parse(R"({"id": 1, "a": true, "b": true})"));

  auto last = client.Get("/agg/last");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->status, 200);
  EXPECT_EQ(Parse(*last), Json::parse(R"({"id": 2, "a": true, "b": true})"));
}

TEST_F(FanoutTest, TemplatesSubstituteParametersAndQuery) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto b = StartBackend("b", JsonReply(R"({"b": 1})"));
  auto c = StartBackend("c", JsonReply(R"({"c": 1})"));
  WriteAgg(Routes("GET", "/user/{id}/orders/{order}",
                  {UrlLeg(*a, R"(, "path": "/users/{id}?verbose={query.verbose}")"),
                   absl::StrCat(R"({"url": ")", Url(*b), R"(/v2", "path": "/o/{order}?{query}"})"),
                   UrlLeg(*c)}));
  StartDataplane();
  auto res = Client().Get("/agg/user/42/orders/x%20y?verbose=1&page=2");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  ASSERT_EQ(a->request_count(), 1u);
  EXPECT_EQ(a->requests()[0].target, "/users/42?verbose=1");
  ASSERT_EQ(b->request_count(), 1u);
  EXPECT_EQ(b->requests()[0].target, "/v2/o/x%20y?verbose=1&page=2");
  // No template: the request's own path and query.
  ASSERT_EQ(c->request_count(), 1u);
  EXPECT_EQ(c->requests()[0].target, "/user/42/orders/x%20y?verbose=1&page=2");
}

TEST_F(FanoutTest, OptionalLegThatTimesOutIsReportedMissing) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto slow = StartBackend("slow", [](const RecordedRequest&) {
    return BackendReply::Json(200, R"({"late": true})").Held();
  });
  WriteAgg(Routes(
      "GET", "/x",
      {UrlLeg(*a), UrlLeg(*slow, R"(, "name": "slow", "timeoutMs": 300, "required": false)")}));
  StartDataplane();
  auto res = Client().Get("/agg/x");
  slow->ReleaseHeld();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  Json body = Parse(*res);
  EXPECT_EQ(body["a"], 1);
  EXPECT_FALSE(body.contains("late"));
  ASSERT_EQ(body["_valet"]["missing"].size(), 1u) << res->body;
  EXPECT_EQ(body["_valet"]["missing"][0]["backend"], "slow");
  EXPECT_EQ(body["_valet"]["missing"][0]["reason"], "timeout");
  EXPECT_EQ(res->Header("X-Valet-Missing"), "slow=timeout");
  EXPECT_TRUE(
      WaitForMetric(R"(valet_fanout_legs_total{app="agg",backend="slow",outcome="timeout"})", 1));
}

TEST_F(FanoutTest, RequiredLegThatTimesOutIs504) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto slow = StartBackend("slow", [](const RecordedRequest&) {
    return BackendReply::Json(200, R"({"late": true})").Held();
  });
  WriteAgg(
      Routes("GET", "/x", {UrlLeg(*a), UrlLeg(*slow, R"(, "name": "slow", "timeoutMs": 300)")}));
  StartDataplane();
  auto res = Client().Get("/agg/x");
  slow->ReleaseHeld();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 504, "fanout_backend_timeout");
  EXPECT_THAT(res->body, HasSubstr(R"(\"slow\")"));
}

TEST_F(FanoutTest, RequiredLegThatFailsIs502) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto broken = StartBackend("broken", [](const RecordedRequest&) {
    return BackendReply::Json(500, R"({"error": "db down"})");
  });
  auto closed_port = PickClosedPort();
  ASSERT_TRUE(closed_port.ok());
  WriteAgg(absl::StrCat(
      R"("routes": [{"path": "/status", "backends": [)", UrlLeg(*a), ", ",
      UrlLeg(*broken, R"(, "name": "broken")"), "]}, ", R"({"path": "/down", "backends": [)",
      UrlLeg(*a), R"(, {"url": "http://127.0.0.1:)", *closed_port, R"(", "name": "gone"}]}],)"));
  StartDataplane();
  auto status = Client().Get("/agg/status");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GATEWAY_ERROR(*status, 502, "fanout_backend_failed");
  EXPECT_THAT(status->body, HasSubstr(R"(\"broken\" failed: status 500)"));
  auto down = Client().Get("/agg/down");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_GATEWAY_ERROR(*down, 502, "fanout_backend_failed");
  EXPECT_THAT(down->body, HasSubstr(R"(\"gone\")"));
  EXPECT_TRUE(WaitForMetric(
      R"(valet_fanout_legs_total{app="agg",backend="gone",outcome="connection"})", 1));
}

TEST_F(FanoutTest, NonJsonLeg) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto html = StartBackend("html", [](const RecordedRequest&) {
    return BackendReply::Respond(200, "<html>hi</html>", {{"Content-Type", "text/html"}});
  });
  WriteAgg(absl::StrCat(R"("routes": [{"path": "/optional", "backends": [)", UrlLeg(*a), ", ",
                        UrlLeg(*html, R"(, "name": "html", "required": false)"), "]}, ",
                        R"({"path": "/required", "backends": [)", UrlLeg(*a), ", ",
                        UrlLeg(*html, R"(, "name": "html")"), "]}],"));
  StartDataplane();
  auto optional = Client().Get("/agg/optional");
  ASSERT_TRUE(optional.ok()) << optional.status();
  EXPECT_EQ(optional->status, 200) << optional->body;
  EXPECT_EQ(optional->Header("X-Valet-Missing"), "html=not_json");
  EXPECT_EQ(Parse(*optional)["_valet"]["missing"][0]["reason"], "not_json");
  auto required = Client().Get("/agg/required");
  ASSERT_TRUE(required.ok()) << required.status();
  EXPECT_GATEWAY_ERROR(*required, 502, "fanout_backend_failed");
  EXPECT_THAT(required->body, HasSubstr("not JSON"));
}

// The legs run at once: each backend holds its answer until all three have their request. Sent
// one after another, the second leg would never start and the request would time out.
TEST_F(FanoutTest, LegsRunConcurrently) {
  Handler held = [](const RecordedRequest& r) {
    return BackendReply::Json(200, absl::StrCat(R"({")", r.target, R"(": 1})")).Held();
  };
  auto a = StartBackend("a", held);
  auto b = StartBackend("b", held);
  auto c = StartBackend("c", held);
  WriteAgg(Routes("GET", "/x",
                  {UrlLeg(*a, R"(, "path": "/a")"), UrlLeg(*b, R"(, "path": "/b")"),
                   UrlLeg(*c, R"(, "path": "/c")")}));
  StartDataplane();
  absl::StatusOr<HttpResponse> res;
  std::thread client([&] { res = Client().Get("/agg/x"); });
  bool all_arrived = a->WaitForRequests(1, absl::Seconds(10)) &&
                     b->WaitForRequests(1, absl::Seconds(10)) &&
                     c->WaitForRequests(1, absl::Seconds(10));
  EXPECT_TRUE(all_arrived) << "the legs did not all start before any answered";
  for (TestBackend* backend : {a.get(), b.get(), c.get()}) backend->ReleaseHeld();
  client.join();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Parse(*res), Json::parse(R"({"/a": 1, "/b": 1, "/c": 1})"));
}

TEST_F(FanoutTest, LegNamingAnAppUsesItsBalancing) {
  auto u1 = StartBackend("u1", JsonReply(R"({"u": 1})"));
  auto u2 = StartBackend("u2", JsonReply(R"({"u": 2})"));
  auto o = StartBackend("o", JsonReply(R"({"o": 1})"));
  WriteApp("users", AppJson("users", {u1->port(), u2->port()}, R"("balancing": "round_robin",)"));
  WriteAgg(Routes("GET", "/user/{id}",
                  {R"({"app": "users", "path": "/users/{id}", "group": "user"})", UrlLeg(*o)}));
  StartDataplane();
  HttpClient client = Client();
  for (int i = 0; i < 4; ++i) {
    auto res = client.Get("/agg/user/" + std::to_string(i));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
  }
  EXPECT_EQ(u1->request_count(), 2u);
  EXPECT_EQ(u2->request_count(), 2u);
  EXPECT_EQ(o->request_count(), 4u);
  ASSERT_GE(u1->request_count(), 1u);
  EXPECT_THAT(u1->requests()[0].target, ::testing::StartsWith("/users/"));
}

TEST_F(FanoutTest, RequestsMatchingNoRouteAreProxied) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  WriteAgg(Routes("GET", "/user/{id}", {UrlLeg(*a)}));
  StartDataplane();
  HttpClient client = Client();
  for (auto [method, target] : {std::pair{"GET", "/agg/other"}, std::pair{"POST", "/agg/user/7"},
                                std::pair{"GET", "/agg/user/7/more"}}) {
    auto res = client.Send(method, target);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->Header("X-Backend-Name"), "fallback") << target;
  }
  EXPECT_EQ(a->request_count(), 0u);
  EXPECT_EQ(fallback_->request_count(), 3u);
}

TEST_F(FanoutTest, BodyOverTheFanoutLimitIs413AndNoLegStarts) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  WriteAgg(Routes("POST", "/x", {UrlLeg(*a)}));
  StartDataplane({"--max-fanout-body-bytes", "1000"});
  auto fits = Client().Send("POST", "/agg/x", {}, std::string(1000, 'x'));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->status, 200) << fits->body;
  auto large = Client().Send("POST", "/agg/x", {}, std::string(1001, 'x'));
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_GATEWAY_ERROR(*large, 413, "body_too_large");
  auto chunked =
      Client().Send("POST", "/agg/x", {}, "",
                    std::vector<std::string>{std::string(600, 'x'), std::string(600, 'y')});
  ASSERT_TRUE(chunked.ok()) << chunked.status();
  EXPECT_GATEWAY_ERROR(*chunked, 413, "body_too_large");
  EXPECT_EQ(a->request_count(), 1u);
}

TEST_F(FanoutTest, BadRoutesAreRefusedWithTheirPath) {
  WriteApp("agg", AppJson("agg", {9}, R"("routes": [{"path": "/user/{id}", "backends": [
      {"app": "nosuchapp"}, {"url": "http://127.0.0.1:9", "path": "/u/{who}"}]}],)"));
  absl::StatusOr<std::string> bin = DataplaneBinary();
  ASSERT_TRUE(bin.ok());
  auto process = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--listen", "127.0.0.1:0",
                                       "--admin-listen", "127.0.0.1:0"});
  ASSERT_TRUE(process.ok());
  auto code = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  std::string log = (*process)->Log();
  EXPECT_THAT(log, HasSubstr("agg.json: routes[0].backends[0].app: no app named \"nosuchapp\""));
  EXPECT_THAT(log, HasSubstr("agg.json: routes[0].backends[1].path: {who} is not a parameter"));
}

}  // namespace
}  // namespace valet::testing

namespace valet::testing {
namespace {

// Auth and the rate limit apply once to a fan-out request, however many legs it has.
TEST_F(FanoutTest, AuthAndTheRateLimitApplyOncePerFanoutRequest) {
  auto a = StartBackend("a", JsonReply(R"({"a": 1})"));
  auto b = StartBackend("b", JsonReply(R"({"b": 2})"));
  WriteAgg(Routes("GET", "/both", {UrlLeg(*a), UrlLeg(*b)}),
           R"("authorize": true, "authKey": "agg-key", "rateLimit": true, "limitValue": 2,
              "limitPeriodSeconds": 3600,)");
  StartDataplane();
  HttpClient client = Client();
  auto denied = client.Get("/agg/both");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_GATEWAY_ERROR(*denied, 401, "missing_credentials");
  EXPECT_EQ(a->request_count() + b->request_count(), 0u);
  for (int used = 1; used <= 2; ++used) {
    auto res = client.Get("/agg/both", {{"X-Valet-Auth", "agg-key"}});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(Parse(*res), Json::parse(R"({"a": 1, "b": 2})"));
    EXPECT_EQ(res->Header("X-Ratelimit-Used"), absl::StrCat(used)) << "one request, two legs";
  }
  auto refused = client.Get("/agg/both", {{"X-Valet-Auth", "agg-key"}});
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 429, "rate_limited");
  EXPECT_EQ(a->request_count(), 2u);
  EXPECT_EQ(b->request_count(), 2u);
  // The credential header does not reach the legs.
  EXPECT_EQ(a->requests()[0].Header("X-Valet-Auth"), "");
}

}  // namespace
}  // namespace valet::testing
