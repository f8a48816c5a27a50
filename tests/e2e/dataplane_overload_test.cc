// Overload is normal: a backend at its connection cap makes requests wait in a bounded queue and
// past it answer a counted 503, and passive health ejects an endpoint only after consecutive
// failures, never all of an app's endpoints.
#include <future>

#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

class OverloadTest : public DataplaneTest {
 protected:
  // GET `target` on a connection of its own, in the background.
  std::future<absl::StatusOr<HttpResponse>> GetAsync(const std::string& target) {
    return std::async(std::launch::async, [this, target] {
      HttpClient client = Client(absl::Seconds(20));
      return client.Get(target);
    });
  }
};

TEST_F(OverloadTest, RequestsPastTheConnectionCapWaitThenOverflowWith503) {
  // Answers wait until the test lets them go, so the cap is full for as long as the test needs.
  auto slow = StartBackend(
      "slow", [](const RecordedRequest&) { return BackendReply::Respond(200, "done").Held(); });
  WriteApp("slow", AppJson("slow", {slow->port()}));
  StartDataplane({"--workers", "1", "--max-connections-per-endpoint", "2",
                  "--max-pending-per-endpoint", "1", "--queue-timeout-ms", "60000"});

  auto first = GetAsync("/slow/1");
  auto second = GetAsync("/slow/2");
  ASSERT_TRUE(slow->WaitForRequests(2, absl::Seconds(10)));
  auto queued = GetAsync("/slow/3");
  ASSERT_TRUE(
      WaitFor([&] { return Metric("valet_upstream_pending_requests") == 1; }, absl::Seconds(10)));
  // The queue is full: refused at once, counted, and the backend never sees it.
  HttpClient client = Client();
  auto refused = client.Get("/slow/4");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 503, "upstream_overloaded");

  // Let the first two answer; the queued request rides one of their connections, and is held
  // in turn until let go.
  slow->ReleaseHeld();
  ASSERT_TRUE(slow->WaitForRequests(3, absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return slow->held_count() == 1; }, absl::Seconds(10)));
  slow->ReleaseHeld();
  for (auto* f : {&first, &second, &queued}) {
    auto res = f->get();
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
  }
  // Never more than two connections to the backend, and the queued request rode one of them.
  EXPECT_EQ(slow->accepted_connections(), 2u);
  EXPECT_EQ(slow->request_count(), 3u);
  EXPECT_EQ(Metric(R"(valet_upstream_errors_total{app="slow",kind="overloaded"})"), 1);
  EXPECT_EQ(Metric("valet_upstream_pending_requests"), 0);
}

TEST_F(OverloadTest, AWaitingRequestGivesUpAfterTheQueueTimeout) {
  auto slow = StartBackend(
      "slow", [](const RecordedRequest&) { return BackendReply::Respond(200, "done").Held(); });
  WriteApp("slow", AppJson("slow", {slow->port()}));
  StartDataplane(
      {"--workers", "1", "--max-connections-per-endpoint", "1", "--queue-timeout-ms", "200"});
  auto first = GetAsync("/slow/1");
  ASSERT_TRUE(slow->WaitForRequests(1, absl::Seconds(10)));
  HttpClient client = Client();
  auto late = client.Get("/slow/2");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_GATEWAY_ERROR(*late, 503, "upstream_overloaded");
  EXPECT_NE(late->body.find("in time"), std::string::npos) << late->body;
  slow->ReleaseHeld();
  auto res = first.get();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(slow->request_count(), 1u);
}

TEST_F(OverloadTest, EjectsOnlyAfterConsecutiveFailures) {
  int dead_port = *PickClosedPort();
  auto good = StartBackend("good");
  WriteApp("pair", AppJson("pair", {dead_port, good->port()}, R"("balancing": "round_robin",)"));
  StartDataplane({"--workers", "1", "--eject-after-failures", "3", "--eject-ms", "60000"});
  HttpClient client = Client();
  // Round robin sends every other request to the dead endpoint; each is retried on the good one.
  for (int i = 0; i < 20; ++i) {
    auto res = client.Get("/pair/x");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
  }
  // Three refused connects ejected it; after that it was not tried again.
  EXPECT_EQ(Metric(R"(valet_upstream_errors_total{app="pair",kind="connect"})"), 3);
  EXPECT_EQ(Metric("valet_upstream_ejections_total"), 1);
  EXPECT_EQ(Metric("valet_upstream_panic_total"), 0);
  EXPECT_NE(dataplane_->Log().find("ejected for 60000 ms after 3 consecutive failures"),
            std::string::npos)
      << dataplane_->Log();
}

TEST_F(OverloadTest, AnAppsOnlyEndpointIsNeverEjectedOutOfService) {
  // Envoy's panic mode: when every endpoint is ejected, use them all. A backend that comes back
  // is used at once instead of after the ejection.
  int port = *PickClosedPort();
  WriteApp("solo", AppJson("solo", {port}));
  StartDataplane({"--workers", "1", "--eject-after-failures", "1", "--eject-ms", "600000"});
  HttpClient client = Client();
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/solo/x");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GATEWAY_ERROR(*res, 502, "upstream_unreachable");
  }
  // Ejected once; the next two went to it anyway (and did not eject it again).
  EXPECT_EQ(Metric("valet_upstream_ejections_total"), 1);
  EXPECT_EQ(Metric("valet_upstream_panic_total"), 2);
  auto revived = StartBackend("revived", nullptr, port);
  ASSERT_NE(revived, nullptr);
  auto res = client.Get("/solo/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
}

}  // namespace
}  // namespace valet::testing
