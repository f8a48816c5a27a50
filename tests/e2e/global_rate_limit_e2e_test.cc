// Global rate limits end to end: a real control plane, three real data planes attached to it and
// a real backend. The limit is the sum over the data planes: the seed's limit of 2 stays exact;
// clients spread 70/20/10 over the data planes at five times the limit get at most the limit and
// at least 95% of it in every window; with the control plane killed each data plane enforces its
// fallback share and no request fails; restarted, the control plane continues the window; quota a
// data plane leaves idle flows back to the others; auth and consumers' own limits hold across the
// three data planes.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "common/fixed_window.h"
#include "common/sha256.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"
#include "tests/support/dataplane_process.h"

namespace valet::testing {
namespace {

std::string Limited(uint32_t limit, uint32_t period) {
  return absl::StrCat(R"("rateLimit": true, "limitValue": )", limit, R"(, "limitPeriodSeconds": )",
                      period, ",");
}

double UnixNow() {
  return std::chrono::duration<double>(WallClock::now().time_since_epoch()).count();
}

class GlobalRateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    WriteApp("probe", "");
  }

  void WriteApp(const std::string& name, const std::string& extra) {
    dir_.WriteFile("conf/" + name + ".json", AppJson(name, {backend_->port()}, extra));
  }

  void StartControlPlane(int grpc_port = 0) {
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), grpc_port);
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_ = cp->grpc;
    http_ = cp->http;
  }

  // Runs valetctl against the control plane; returns its exit code and output.
  std::pair<int, std::string> Valetctl(std::vector<std::string> args) {
    auto bin = ValetctlBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return {-1, ""};
    args.insert(args.begin(), {"--server", grpc_});
    auto p = Process::Start(*bin, args);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return {-1, ""};
    auto code = (*p)->Wait(absl::Seconds(60));
    return {code.ok() ? *code : -1, (*p)->Log()};
  }

  // Starts three data planes and waits until each serves the apps in global mode.
  void StartDataplanes() {
    for (const char* id : {"dp-a", "dp-b", "dp-c"}) {
      auto dp = StartAttachedDataplaneProcess(
          grpc_, id, dir_.Join(std::string(id) + ".ports"),
          {"--workers", "2", "--quota-wait-ms", "200", "--report-interval-ms", "200"});
      ASSERT_TRUE(dp.ok()) << dp.status();
      dataplanes_.push_back(std::move(*dp));
    }
    for (auto& dp : dataplanes_) {
      ASSERT_TRUE(WaitFor(
          [&] {
            auto res = HttpClient(dp.listen, absl::Seconds(2)).Get("/probe/x");
            return res.ok() && res->status == 200;
          },
          absl::Seconds(20)))
          << dp.process->Log();
      ASSERT_TRUE(WaitForMode(dp, "global")) << dp.process->Log();
    }
  }

  // The cluster-wide use of the app `app`'s own budget (GET /v1/limits), or -1.
  int64_t ClusterUsed(const std::string& app) {
    auto res = HttpClient(http_, absl::Seconds(5)).Get("/v1/limits?app=" + app);
    if (!res.ok() || res->status != 200) return -1;
    nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
    if (body.is_discarded() || body["limits"].empty()) return -1;
    return std::stoll(body["limits"][0]["used"].get<std::string>());
  }

  // The value of `series` on `dp`'s /metrics, or -1.
  static double Metric(const RunningDataplane& dp, const std::string& series) {
    auto res = HttpClient(dp.admin, absl::Seconds(2)).Get("/metrics");
    if (!res.ok()) return -1;
    std::string text = "\n" + res->body;
    size_t pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::strtod(text.c_str() + pos + series.size() + 2, nullptr);
  }

  static bool WaitForMode(const RunningDataplane& dp, const std::string& mode) {
    return WaitFor(
        [&] { return Metric(dp, absl::StrCat("valet_ratelimit_mode{mode=\"", mode, "\"}")) == 1; },
        absl::Seconds(20));
  }

  // Waits until the current window of `period` has `seconds` left.
  static void WaitForWindowRoom(uint32_t period, int64_t seconds) {
    ASSERT_TRUE(WaitFor(
        [&] {
          return WindowAt(WallClock::now(), std::chrono::seconds(period)).reset.count() >= seconds;
        },
        absl::Seconds(period + 5)));
  }

  // Sends `n` requests to `target` on `dp` (one connection); counts answers by status.
  static std::map<int, int> Send(const RunningDataplane& dp, const std::string& target, int n) {
    std::map<int, int> by_status;
    HttpClient client(dp.listen, absl::Seconds(10));
    for (int i = 0; i < n; ++i) {
      auto res = client.Get(target);
      ++by_status[res.ok() ? res->status : -1];
    }
    return by_status;
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::string grpc_;
  std::string http_;
  std::vector<RunningDataplane> dataplanes_;
};

TEST_F(GlobalRateLimitTest, TheSeedsLimitOfTwoIsExactOverThreeDataPlanes) {
  WriteApp("userauth", Limited(2, 3600));
  StartControlPlane();
  StartDataplanes();
  WaitForWindowRoom(3600, 60);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (const RunningDataplane& dp : dataplanes_) {
    clients.emplace_back([&, listen = dp.listen] {
      HttpClient client(listen, absl::Seconds(10));
      for (int i = 0; i < 4; ++i) {
        auto res = client.Get("/userauth/x");
        if (res.ok() && res->status == 200) {
          ++ok;
        } else if (res.ok() && res->status == 429) {
          ++refused;
          EXPECT_EQ(res->Header("RateLimit-Policy"), "\"default\";q=2;w=3600");
          EXPECT_EQ(res->Header("X-Ratelimit-Remaining"), "0");
          EXPECT_FALSE(res->Header("Retry-After").empty());
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(refused.load(), 10);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(GlobalRateLimitTest, UnevenClientsAtFiveTimesTheLimitGetTheLimitInEveryWindow) {
  constexpr int kLimit = 40;
  constexpr int kPeriod = 2;
  constexpr int kWindows = 4;  // Full windows measured.
  WriteApp("shop", Limited(kLimit, kPeriod));
  StartControlPlane();
  StartDataplanes();

  // Clients 7/2/1 over the three data planes, each as fast as it is answered.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<int64_t, int> admitted_by_window_end;  // Window end (unix seconds) -> admitted.
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> clients;
  const int spread[] = {7, 2, 1};
  const double start = UnixNow();
  for (int d = 0; d < 3; ++d) {
    for (int c = 0; c < spread[d]; ++c) {
      clients.emplace_back([&, listen = dataplanes_[d].listen] {
        HttpClient client(listen, absl::Seconds(10));
        for (int i = 0; i < 200000 && !stop; ++i) {
          double sent = UnixNow();
          auto res = client.Get("/shop/x");
          double received = UnixNow();
          if (!res.ok() || (res->status != 200 && res->status != 429)) {
            ++failed;
            continue;
          }
          ++answered;
          if (res->status != 200) continue;
          // The window it was admitted in: its end E is the one multiple of the period in
          // (sent + reset - 1, received + reset] (Reset rounds the seconds left up).
          double reset = std::strtod(res->Header("X-Ratelimit-Reset").c_str(), nullptr);
          int64_t end = static_cast<int64_t>(std::floor((received + reset) / kPeriod)) * kPeriod;
          if (end <= sent + reset - 1) continue;  // Not determined: never with a fast answer.
          std::lock_guard<std::mutex> lock(mu);
          ++admitted_by_window_end[end];
        }
      });
    }
  }
  // From the first window end after the start, kWindows whole windows (and a bit).
  const int64_t first_end = (static_cast<int64_t>(start) / kPeriod + 1) * kPeriod;
  const int64_t last_end = first_end + kWindows * kPeriod;
  ASSERT_TRUE(WaitFor([&] { return UnixNow() > last_end + 0.5; },
                      absl::Seconds(kPeriod * (kWindows + 2) + 5)));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [end, admitted] : admitted_by_window_end) {
    EXPECT_LE(admitted, kLimit) << "window ending at " << end;
  }
  int demand_ok = 0;
  std::string figures;
  for (int64_t end = first_end + kPeriod; end <= last_end; end += kPeriod) {
    int admitted = admitted_by_window_end[end];
    absl::StrAppend(&figures, figures.empty() ? "" : " ", admitted);
    EXPECT_GE(admitted, kLimit * 95 / 100) << "window ending at " << end;
    ++demand_ok;
  }
  EXPECT_EQ(demand_ok, kWindows);
  // The accuracy figures (bench/README.md): admitted per whole window, for a limit of kLimit.
  std::printf("admitted per window (limit %d): %s; answered %d\n", kLimit, figures.c_str(),
              answered.load());
  // Five times the limit at least: the excess demand the guarantee is about.
  EXPECT_GE(answered.load(), 5 * kLimit * kWindows) << "the clients were too slow to test this";
}

TEST_F(GlobalRateLimitTest,
       WithoutAControlPlaneEachDataPlaneSpendsItsShareAndARestartKeepsTheWindow) {
  WriteApp("shop", Limited(30, 3600));
  WriteApp("busy", Limited(1000000, 3600));
  StartControlPlane();
  int grpc_port = SplitHostPort(grpc_)->second;
  StartDataplanes();
  WaitForWindowRoom(3600, 120);
  RunningDataplane& a = dataplanes_[0];
  RunningDataplane& b = dataplanes_[1];
  RunningDataplane& c = dataplanes_[2];

  // Global: two requests on each data plane (each hears that there are three).
  for (RunningDataplane* dp : {&a, &b, &c}) EXPECT_EQ(Send(*dp, "/shop/x", 2)[200], 2);

  // Traffic on another limited app across the kill and the restart: never a failure.
  std::atomic<bool> stop{false};
  std::atomic<int> busy_ok{0}, busy_failed{0};
  std::vector<std::thread> traffic;
  for (const RunningDataplane* dp : {&a, &b, &c}) {
    traffic.emplace_back([&, listen = dp->listen] {
      HttpClient client(listen, absl::Seconds(10));
      for (int n = 0; n < 100000 && !stop; ++n) {
        auto res = client.Get("/busy/x");
        (res.ok() && res->status == 200 ? busy_ok : busy_failed)++;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return busy_ok.load() > 50; }, absl::Seconds(10)));

  ASSERT_TRUE(control_plane_->Signal(SIGKILL).ok());
  ASSERT_TRUE(control_plane_->Wait(absl::Seconds(10)).ok());
  for (RunningDataplane* dp : {&a, &b, &c}) ASSERT_TRUE(WaitForMode(*dp, "fallback"));
  int at_kill = busy_ok.load();
  ASSERT_TRUE(WaitFor([&] { return busy_ok.load() > at_kill + 50; }, absl::Seconds(10)));

  // Fallback share: 30 / 3 = 10 per data plane, of which a spent 2 already.
  std::map<int, int> fallback = Send(a, "/shop/x", 12);
  EXPECT_EQ(fallback[200], 8);
  EXPECT_EQ(fallback[429], 4);
  EXPECT_TRUE(absl::StrContains(a.process->Log(), "fallback share of limit / 3"))
      << a.process->Log();
  EXPECT_EQ(Metric(a, R"(valet_ratelimit_mode{mode="global"})"), 0);

  // Restarted on the same address: every data plane reattaches in global mode and reports what
  // it spent: a 10, b 2, c 2. The window goes on: 16 of 30 are left, not 30.
  StartControlPlane(grpc_port);
  for (RunningDataplane* dp : {&a, &b, &c}) ASSERT_TRUE(WaitForMode(*dp, "global"));
  std::map<int, int> after = Send(b, "/shop/x", 20);
  EXPECT_EQ(after[200], 16);
  EXPECT_EQ(after[429], 4);
  EXPECT_EQ(Send(c, "/shop/x", 3)[429], 3);

  stop = true;
  for (auto& t : traffic) t.join();
  EXPECT_EQ(busy_failed.load(), 0);
}

TEST_F(GlobalRateLimitTest, GetLimitsShowsEachBudgetClusterWide) {
  WriteApp("shop", absl::StrCat(Limited(5, 3600), R"("consumers": [
      {"name": "alice", "key": "alice-key", "limitValue": 3, "limitPeriodSeconds": 600},
      {"name": "bob", "key": "bob-key"}],)"));
  WriteApp("other", Limited(9, 60));
  StartControlPlane();
  StartDataplanes();
  WaitForWindowRoom(3600, 60);
  std::map<int, int> a = Send(dataplanes_[0], "/shop/x", 4);
  std::map<int, int> b = Send(dataplanes_[1], "/shop/x", 3);
  EXPECT_EQ(a[200] + b[200], 5);
  EXPECT_EQ(a[429] + b[429], 2);

  // REST: the app's budget and alice's (bob has no limit of his own); refusals arrive with the
  // data planes' next status reports.
  nlohmann::json shop;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto res = HttpClient(http_, absl::Seconds(5)).Get("/v1/limits?app=shop");
        if (!res.ok() || res->status != 200) return false;
        shop = nlohmann::json::parse(res->body, nullptr, false);
        return !shop.is_discarded() && shop["limits"].size() == 2 &&
               shop["limits"][0]["refused"] == "2";
      },
      absl::Seconds(20)))
      << shop.dump();
  const nlohmann::json& app = shop["limits"][0];
  EXPECT_EQ(app["app"], "shop");
  EXPECT_EQ(app["forConsumer"], false);
  EXPECT_EQ(app["limit"], 5);
  EXPECT_EQ(app["periodSeconds"], 3600);
  EXPECT_EQ(app["used"], "5");
  EXPECT_EQ(app["remaining"], "0");
  EXPECT_GE(app["resetSeconds"].get<int>(), 1);
  EXPECT_LE(app["resetSeconds"].get<int>(), 3600);
  const nlohmann::json& alice = shop["limits"][1];
  EXPECT_EQ(alice["consumer"], "alice");
  EXPECT_EQ(alice["forConsumer"], true);
  EXPECT_EQ(alice["limit"], 3);
  EXPECT_EQ(alice["periodSeconds"], 600);

  auto unknown = HttpClient(http_).Get("/v1/limits?app=nosuch");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto bad = HttpClient(http_).Get("/v1/limits?color=red");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400) << bad->body;

  // valetctl: every app, one app, one consumer, JSON.
  auto [all_code, all] = Valetctl({"limits"});
  EXPECT_EQ(all_code, 0) << all;
  EXPECT_TRUE(absl::StrContains(all, "REMAINING")) << all;
  EXPECT_TRUE(absl::StrContains(all, "other")) << all;
  EXPECT_TRUE(absl::StrContains(all, "5/3600s")) << all;
  auto [one_code, one] = Valetctl({"limits", "shop", "--consumer", "alice", "-o", "json"});
  EXPECT_EQ(one_code, 0) << one;
  nlohmann::json only_alice = nlohmann::json::parse(one, nullptr, false);
  ASSERT_FALSE(only_alice.is_discarded()) << one;
  ASSERT_EQ(only_alice["limits"].size(), 1u) << one;
  EXPECT_EQ(only_alice["limits"][0]["consumer"], "alice");
  auto [missing_code, missing] = Valetctl({"limits", "nosuch"});
  EXPECT_NE(missing_code, 0) << missing;
}

TEST_F(GlobalRateLimitTest, QuotaADataPlaneLeavesIdleFlowsBackToTheOthers) {
  constexpr int kLimit = 1000;
  WriteApp("shop", Limited(kLimit, 3600));
  StartControlPlane();
  StartDataplanes();
  WaitForWindowRoom(3600, 120);
  RunningDataplane& a = dataplanes_[0];
  RunningDataplane& b = dataplanes_[1];

  // A burst on a: its grants grow ahead of its spending, so it stops holding unspent quota that
  // the control plane counts as used.
  int admitted = 0;
  bool holds_quota = false;
  for (int burst = 0; burst < 5 && !holds_quota; ++burst) {
    admitted += Send(a, "/shop/x", 60)[200];
    holds_quota = ClusterUsed("shop") > admitted;
  }
  ASSERT_TRUE(holds_quota) << "a never held quota ahead of its spending";
  // Idle for --quota-idle-ms (500 ms by default): a gives its quota back.
  ASSERT_TRUE(WaitFor([&] { return ClusterUsed("shop") == admitted; }, absl::Seconds(10)))
      << "used " << ClusterUsed("shop") << ", admitted " << admitted;

  // b spends what is left, a's returned quota included: the whole limit is admitted.
  std::map<int, int> rest = Send(b, "/shop/x", kLimit - admitted + 5);
  EXPECT_EQ(admitted + rest[200], kLimit);
  EXPECT_EQ(rest[429], 5);
}

TEST_F(GlobalRateLimitTest, KeysAndConsumersLimitsHoldAcrossThreeDataPlanes) {
  WriteApp("partners", absl::StrCat(R"("authorize": true, "authKey": "partners-app-key",)",
                                    R"("consumers": [
      {"name": "alice", "key": "alice-secret-key", "limitValue": 3, "limitPeriodSeconds": 3600},
      {"name": "bob", "keySha256": ")",
                                    Sha256Hex("bob-secret-key"),
                                    R"(", "limitValue": 2, "limitPeriodSeconds": 3600}],)",
                                    Limited(1000, 3600)));
  StartControlPlane();
  StartDataplanes();
  WaitForWindowRoom(3600, 60);
  std::map<int, int> alice, bob;
  for (RunningDataplane& dp : dataplanes_) {
    HttpClient client(dp.listen, absl::Seconds(10));
    auto missing = client.Get("/partners/x");
    ASSERT_TRUE(missing.ok());
    EXPECT_EQ(missing->status, 401);
    EXPECT_TRUE(absl::StrContains(missing->body, "missing_credentials")) << missing->body;
    auto wrong = client.Get("/partners/x", {{"X-Valet-Auth", "not-a-key"}});
    ASSERT_TRUE(wrong.ok());
    EXPECT_EQ(wrong->status, 401);
    EXPECT_TRUE(absl::StrContains(wrong->body, "invalid_credentials")) << wrong->body;
    EXPECT_FALSE(wrong->Header("X-Ratelimit-Remaining").empty()) << "a 401 carries the fields";

    // The consumer's name goes to the backend, the key does not, and a client's name is always
    // replaced (by none for the anonymous authKey consumer).
    backend_->ClearRequests();
    auto anonymous = client.Get(
        "/partners/anon", {{"X-Valet-Auth", "partners-app-key"}, {"X-Valet-Consumer", "bob"}});
    ASSERT_TRUE(anonymous.ok());
    EXPECT_EQ(anonymous->status, 200);
    for (int i = 0; i < 2; ++i) {
      auto res = client.Get("/partners/alice",
                            {{"X-Valet-Auth", "alice-secret-key"}, {"X-Valet-Consumer", "bob"}});
      ++alice[res.ok() ? res->status : -1];
      res = client.Get("/partners/bob", {{"X-Valet-Auth", "bob-secret-key"}});
      ++bob[res.ok() ? res->status : -1];
    }
    for (const RecordedRequest& seen : backend_->requests()) {
      EXPECT_EQ(seen.HeaderCount("X-Valet-Auth"), 0u) << seen.target;
      if (absl::EndsWith(seen.target, "/anon")) {
        EXPECT_EQ(seen.HeaderCount("X-Valet-Consumer"), 0u);
      } else {
        EXPECT_EQ(seen.HeaderCount("X-Valet-Consumer"), 1u) << seen.target;
        EXPECT_TRUE(absl::EndsWith(seen.target, "/" + seen.Header("X-Valet-Consumer")))
            << seen.target << " came as " << seen.Header("X-Valet-Consumer");
      }
    }
  }
  // Each consumer's own limit is global: alice 3 and bob 2 over the three data planes.
  EXPECT_EQ(alice[200], 3);
  EXPECT_EQ(alice[429], 3);
  EXPECT_EQ(bob[200], 2);
  EXPECT_EQ(bob[429], 4);

  for (const std::string& key : {"alice-secret-key", "bob-secret-key", "partners-app-key"}) {
    EXPECT_FALSE(absl::StrContains(control_plane_->Log(), key));
    for (RunningDataplane& dp : dataplanes_)
      EXPECT_FALSE(absl::StrContains(dp.process->Log(), key));
    auto limits = HttpClient(http_).Get("/v1/limits");
    ASSERT_TRUE(limits.ok());
    EXPECT_FALSE(absl::StrContains(limits->body, key));
    auto app = HttpClient(http_).Get("/v1/apps/partners");
    ASSERT_TRUE(app.ok());
    EXPECT_EQ(app->status, 200);
    EXPECT_FALSE(absl::StrContains(app->body, key)) << app->body;
  }
}

}  // namespace
}  // namespace valet::testing
