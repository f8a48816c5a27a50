// Balancing, reloads and draining while traffic runs: no request fails.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

class LifecycleTest : public DataplaneTest {
 protected:
  // Runs `threads` clients in a loop until `stop` is set (bounded by `max_each` requests each);
  // counts answers that are not 200 or that failed.
  struct Traffic {
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::string> failures;  // Guarded by mu.
    std::mutex mu;
    std::vector<std::thread> threads;
  };

  void StartTraffic(Traffic& t, const std::string& target, int threads, int max_each = 20000) {
    for (int i = 0; i < threads; ++i) {
      t.threads.emplace_back([this, &t, target, max_each] {
        HttpClient client = Client();
        for (int n = 0; n < max_each && !t.stop.load(); ++n) {
          auto res = client.Get(target);
          if (res.ok() && res->status == 200) {
            t.ok++;
          } else {
            t.failed++;
            std::lock_guard<std::mutex> lock(t.mu);
            t.failures.push_back(res.ok() ? res->body : std::string(res.status().message()));
          }
        }
      });
    }
  }

  void StopTraffic(Traffic& t) {
    t.stop = true;
    for (auto& th : t.threads) th.join();
  }
};

TEST_F(LifecycleTest, BothEndpointsGetTraffic) {
  auto a = StartBackend("a");
  auto b = StartBackend("b");
  WriteApp("lb", AppJson("lb", {a->port(), b->port()}));
  StartDataplane();
  HttpClient client = Client();
  for (int i = 0; i < 100; ++i) {
    auto res = client.Get("/lb/x");
    ASSERT_TRUE(res.ok()) << res.status();
    ASSERT_EQ(res->status, 200);
  }
  EXPECT_GT(a->request_count(), 10u);
  EXPECT_GT(b->request_count(), 10u);
  EXPECT_EQ(a->request_count() + b->request_count(), 100u);
}

TEST_F(LifecycleTest, EndpointNamedByHostName) {
  // "localhost" goes through the resolver (off the event loop), not the IP-literal fast path.
  auto a = StartBackend("a");
  WriteApp("named", R"({"name": "named", "endpoints": [{"host": "localhost", "port": )" +
                        std::to_string(a->port()) + "}]}");
  StartDataplane();
  HttpClient client = Client();
  auto res = client.Get("/named/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(a->request_count(), 1u);
}

TEST_F(LifecycleTest, RoundRobinAlternates) {
  auto a = StartBackend("a");
  auto b = StartBackend("b");
  WriteApp("rr", AppJson("rr", {a->port(), b->port()}, R"("balancing": "round_robin",)"));
  StartDataplane({"--workers", "1"});
  HttpClient client = Client();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Get("/rr/x").ok());
  EXPECT_EQ(a->request_count(), 5u);
  EXPECT_EQ(b->request_count(), 5u);
}

TEST_F(LifecycleTest, DeadEndpointSkippedWithoutFailedRequests) {
  auto a = StartBackend("a");
  int dead = *PickClosedPort();
  WriteApp("lb", AppJson("lb", {a->port(), dead}));
  StartDataplane();
  HttpClient client = Client();
  for (int i = 0; i < 50; ++i) {
    auto res = client.Get("/lb/x");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200) << res->body;
  }
  EXPECT_EQ(a->request_count(), 50u);
  EXPECT_GE(Metric(R"(valet_upstream_errors_total{app="lb",kind="connect"})"), 1);
}

TEST_F(LifecycleTest, SighupReloadsValidAndRefusesInvalidWhileTrafficRuns) {
  auto a = StartBackend("a");
  auto b = StartBackend("b");
  WriteApp("one", AppJson("one", {a->port()}));
  StartDataplane();

  Traffic traffic;
  StartTraffic(traffic, "/one/x", 4);
  ASSERT_TRUE(WaitFor([&] { return traffic.ok.load() > 50; }, absl::Seconds(10)));

  // A valid change: a second app appears, the first moves to backend b.
  WriteApp("one", AppJson("one", {b->port()}));
  WriteApp("two", AppJson("two", {a->port()}));
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  HttpClient client = Client();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = client.Get("/two/x");
        return res.ok() && res->status == 200;
      },
      absl::Seconds(10)))
      << dataplane_->Log();
  uint64_t b_before = b->request_count();
  ASSERT_TRUE(WaitFor([&] { return b->request_count() > b_before + 20; }, absl::Seconds(10)));

  // An invalid change is refused and the old snapshot keeps serving.
  WriteApp("two", R"({"name": "two", "endpoints": [{"host": "127.0.0.1", "port": 70000}]})");
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  ASSERT_TRUE(WaitFor([&] { return dataplane_->Log().find("reload refused") != std::string::npos; },
                      absl::Seconds(10)));
  EXPECT_NE(dataplane_->Log().find("endpoints[0].port"), std::string::npos);
  auto still = client.Get("/two/x");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->status, 200);
  int ok_at_refusal = traffic.ok.load();
  ASSERT_TRUE(WaitFor([&] { return traffic.ok.load() > ok_at_refusal + 50; }, absl::Seconds(10)));

  StopTraffic(traffic);
  EXPECT_EQ(traffic.failed.load(), 0) << (traffic.failures.empty() ? "" : traffic.failures[0]);
  EXPECT_GE(Metric(R"(valet_config_reloads_total{result="error"})"), 1);
}

TEST_F(LifecycleTest, SigtermDrainsRequestsInFlightAndExitsZero) {
  // The backend holds every answer until the test lets it go: the requests stay in flight for as
  // long as the drain checks below take, however slow the machine.
  auto slow = StartBackend(
      "slow", [](const RecordedRequest&) { return BackendReply::Respond(200, "finished").Held(); });
  WriteApp("slow", AppJson("slow", {slow->port()}));
  StartDataplane();

  std::atomic<int> finished{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([this, &finished] {
      HttpClient client = Client(absl::Seconds(30));
      auto res = client.Get("/slow/x");
      if (res.ok() && res->status == 200 && res->body == "finished") finished++;
    });
  }
  // Join the clients on every way out, so a failed assertion cannot leave them running.
  struct Joiner {
    TestBackend* backend;
    std::vector<std::thread>* threads;
    ~Joiner() {
      backend->ReleaseHeld();
      for (auto& t : *threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{slow.get(), &clients};
  ASSERT_TRUE(WaitFor([&] { return slow->held_count() == 4; }, absl::Seconds(10)));
  ASSERT_TRUE(dataplane_->Signal(SIGTERM).ok());
  // Load balancers are told at once to send no more.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto ready = Admin("/readyz");
        return ready.ok() && ready->status == 503;
      },
      absl::Seconds(5)));
  // While the four requests are still in flight (the process cannot have exited), new
  // connections are no longer served. An unknown app: the gateway would answer it at once, so a
  // failure here is the refusal, not the held backend.
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpClient late = Client(absl::Seconds(2));
        return !late.Get("/nope/x").ok();
      },
      absl::Seconds(10)));
  EXPECT_TRUE(dataplane_->Running()) << dataplane_->Log();
  EXPECT_EQ(finished.load(), 0);
  EXPECT_EQ(slow->request_count(), 4u);

  slow->ReleaseHeld();
  for (auto& c : clients) c.join();
  EXPECT_EQ(finished.load(), 4);
  auto code = dataplane_->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << dataplane_->Log();
}

TEST_F(LifecycleTest, AdminEndpoints) {
  auto a = StartBackend("a");
  WriteApp("one", AppJson("one", {a->port()}));
  StartDataplane();
  auto health = Admin("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto ready = Admin("/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  HttpClient admin(admin_);
  auto head = admin.Send("HEAD", "/healthz");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto post = admin.Send("POST", "/healthz", {}, "x");
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 405);
  HttpClient client = Client();
  ASSERT_TRUE(client.Get("/one/x").ok());
  ASSERT_TRUE(client.Get("/nope/x").ok());
  // Recorded when the gateway is done with each request, which may be just after the client
  // has read the answer.
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="one",class="2xx"})", 1));
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="",class="4xx"})", 1));
  EXPECT_TRUE(WaitForMetric(R"(valet_request_duration_seconds_count{app="one"})", 1));
  EXPECT_EQ(Metric("valet_snapshot_version"), 1);
}

TEST_F(LifecycleTest, BadFlagsAreRefusedNamingTheFlag) {
  WriteApp("a", AppJson("a", {1}));
  auto busy_backend = StartBackend("busy");
  TestBackend& busy = *busy_backend;
  auto bin = DataplaneBinary();
  ASSERT_TRUE(bin.ok());
  struct Case {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"--client-timeout-ms", "0"}, "--client-timeout-ms must be a positive number"},
      {{"--max-header-bytes", "10"}, "--max-header-bytes must be at least 1024"},
      {{"--listen", "nowhere"}, "listen address \"nowhere\""},
      {{"--control-plane", "127.0.0.1:1"}, "give exactly one config source"},
      // A listener that cannot bind after another did: refused cleanly, no crash.
      {{"--listen", "127.0.0.1:0", "--admin-listen", busy.host_port()}, "Address already in use"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--conf-dir", dir_.Join("conf"), "--admin-listen",
                                     "127.0.0.1:0"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto p = Process::Start(*bin, args);
    ASSERT_TRUE(p.ok());
    auto code = (*p)->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << c.says;
    EXPECT_GT(*code, 0) << c.says << " (a negative code is a signal: a crash)";
    EXPECT_NE((*p)->Log().find(c.says), std::string::npos) << (*p)->Log();
  }
}

TEST_F(LifecycleTest, InvalidConfDirAtStartIsRefusedWithEveryError) {
  WriteApp("a", R"({"name": "a", "endpoints": []})");
  WriteApp("b", R"({"name": "b", "endpoints": [{"host": "h", "port": 1}], "authorise": true})");
  auto bin = DataplaneBinary();
  ASSERT_TRUE(bin.ok());
  auto p = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--listen", "127.0.0.1:0",
                                 "--admin-listen", "127.0.0.1:0"});
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  std::string log = (*p)->Log();
  EXPECT_NE(log.find("a.json: endpoints: at least one endpoint is required"), std::string::npos)
      << log;
  EXPECT_NE(log.find("b.json: authorise: unknown field"), std::string::npos) << log;
}

// A reload that leaves no app is accepted (an empty dir is a valid set), never silently.
TEST_F(LifecycleTest, SighupThatRemovesEveryAppWarnsNamingTheConfDir) {
  auto a = StartBackend("a");
  WriteApp("one", AppJson("one", {a->port()}));
  StartDataplane();
  HttpClient client = Client();
  auto served = client.Get("/one/x");
  ASSERT_TRUE(served.ok()) << served.status();
  ASSERT_EQ(served->status, 200);

  ASSERT_TRUE(std::filesystem::remove(dir_.Join("conf/one.json")));
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  const std::string warning = "reload of " + dir_.Join("conf") + " removed every app (1)";
  ASSERT_TRUE(WaitFor([&] { return dataplane_->Log().find(warning) != std::string::npos; },
                      absl::Seconds(10)))
      << dataplane_->Log();
  auto gone = client.Get("/one/x");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->status, 404);
}

}  // namespace
}  // namespace valet::testing
