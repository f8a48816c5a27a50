// The whole system end to end: a real valet-controlplane, two real valet-dataplanes attached to
// it, a real backend, and valetctl / the REST admin driving changes.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"

namespace valet::testing {
namespace {

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = StartBackend();
    dir_.WriteFile("conf/one.json", AppJson("one", {backend_->port()}));
  }

  std::unique_ptr<TestBackend> StartBackend() {
    auto backend = TestBackend::Start();
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  // Starts the control plane; `grpc_port` 0 picks one (a restart passes the old one).
  void StartControlPlane(int grpc_port = 0) {
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), grpc_port);
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_ = cp->grpc;
    http_ = cp->http;
  }

  struct Dataplane {
    std::unique_ptr<Process> process;
    std::string listen;
  };

  // Starts data plane `index` attached to the control plane.
  Dataplane StartDataplane(const std::string& id, std::vector<std::string> extra = {}) {
    Dataplane dp;
    auto bin = DataplaneBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return dp;
    std::string port_file = dir_.Join(id + ".ports");
    ::unlink(port_file.c_str());
    std::vector<std::string> args = {
        "--control-plane", grpc_,         "--id",        id,        "--listen",  "127.0.0.1:0",
        "--admin-listen",  "127.0.0.1:0", "--port-file", port_file, "--workers", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = Process::Start(*bin, args);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return dp;
    dp.process = std::move(*p);
    auto ports = WaitForPortFile(port_file, absl::Seconds(20));
    EXPECT_TRUE(ports.ok()) << ports.status() << dp.process->Log();
    if (ports.ok()) dp.listen = (*ports)["listen"];
    return dp;
  }

  // True once `target` on `dp` answers `status`.
  bool Answers(const Dataplane& dp, const std::string& target, int status) {
    HttpClient client(dp.listen, absl::Seconds(2));
    auto res = client.Get(target);
    return res.ok() && res->status == status;
  }

  bool WaitAnswers(const Dataplane& dp, const std::string& target, int status) {
    return WaitFor([&] { return Answers(dp, target, status); }, absl::Seconds(20));
  }

  struct CtlResult {
    int code = -1;
    std::string output;
  };

  CtlResult Valetctl(std::vector<std::string> args) {
    CtlResult r;
    auto bin = ValetctlBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return r;
    args.insert(args.begin(), {"--server", grpc_});
    auto p = Process::Start(*bin, args);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return r;
    auto code = (*p)->Wait(absl::Seconds(60));
    EXPECT_TRUE(code.ok()) << code.status();
    r.code = code.ok() ? *code : -1;
    r.output = (*p)->Log();
    return r;
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::string grpc_;
  std::string http_;
};

TEST_F(ClusterTest, ApplyWaitReturnsOnlyWhenBothDataPlanesServe) {
  StartControlPlane();
  Dataplane a = StartDataplane("dp-a");
  Dataplane b = StartDataplane("dp-b");
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200)) << a.process->Log();
  ASSERT_TRUE(WaitAnswers(b, "/one/x", 200)) << b.process->Log();

  std::string file = dir_.WriteFile("new/two.json", AppJson("two", {backend_->port()}));
  CtlResult applied = Valetctl({"apply", "-f", file, "--wait"});
  ASSERT_EQ(applied.code, 0) << applied.output;
  // --wait returned: both data planes serve the new app now, without waiting further.
  EXPECT_TRUE(Answers(a, "/two/x", 200));
  EXPECT_TRUE(Answers(b, "/two/x", 200));

  CtlResult planes = Valetctl({"-o", "json", "dataplanes"});
  ASSERT_EQ(planes.code, 0) << planes.output;
  EXPECT_NE(planes.output.find("dp-a"), std::string::npos) << planes.output;
  EXPECT_NE(planes.output.find("dp-b"), std::string::npos) << planes.output;
}

TEST_F(ClusterTest, InvalidAppIsRefusedAndNothingChanges) {
  StartControlPlane();
  Dataplane a = StartDataplane("dp-a");
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200));
  CtlResult before = Valetctl({"version"});
  ASSERT_EQ(before.code, 0) << before.output;

  std::string bad = dir_.WriteFile(
      "new/bad.json", R"({"name": "bad", "endpoints": [{"host": "127.0.0.1", "port": 0}]})");
  CtlResult refused = Valetctl({"apply", "-f", bad});
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("endpoints[0].port"), std::string::npos) << refused.output;

  CtlResult after = Valetctl({"version"});
  EXPECT_EQ(after.output, before.output);
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("conf/bad.json")));
  EXPECT_TRUE(Answers(a, "/bad/x", 404));
  EXPECT_TRUE(Answers(a, "/one/x", 200));
}

TEST_F(ClusterTest, NackIsReportedAndTheOldSnapshotKeepsServing) {
  StartControlPlane();
  Dataplane ok = StartDataplane("dp-ok");
  Dataplane strict = StartDataplane("dp-strict", {"--max-apps", "1"});
  ASSERT_TRUE(WaitAnswers(ok, "/one/x", 200));
  ASSERT_TRUE(WaitAnswers(strict, "/one/x", 200));

  std::string file = dir_.WriteFile("new/two.json", AppJson("two", {backend_->port()}));
  CtlResult applied = Valetctl({"apply", "-f", file, "--wait"});
  EXPECT_EQ(applied.code, 1) << applied.output;
  EXPECT_NE(applied.output.find("dp-strict"), std::string::npos) << applied.output;
  EXPECT_NE(applied.output.find("--max-apps"), std::string::npos) << applied.output;

  CtlResult planes = Valetctl({"dataplanes"});
  ASSERT_EQ(planes.code, 0) << planes.output;
  EXPECT_NE(planes.output.find("--max-apps"), std::string::npos) << planes.output;

  EXPECT_TRUE(Answers(ok, "/two/x", 200));
  // The refused snapshot never serves; the old one does.
  EXPECT_TRUE(Answers(strict, "/two/x", 404));
  EXPECT_TRUE(Answers(strict, "/one/x", 200));
}

TEST_F(ClusterTest, KillingTheControlPlaneFailsNoRequestAndDataPlanesReattach) {
  StartControlPlane();
  int grpc_port = SplitHostPort(grpc_)->second;
  Dataplane a = StartDataplane("dp-a");
  Dataplane b = StartDataplane("dp-b");
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200));
  ASSERT_TRUE(WaitAnswers(b, "/one/x", 200));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  std::vector<std::thread> traffic;
  for (const Dataplane* dp : {&a, &b}) {
    for (int t = 0; t < 2; ++t) {
      traffic.emplace_back([&, listen = dp->listen] {
        HttpClient client(listen);
        for (int n = 0; n < 100000 && !stop; ++n) {
          auto res = client.Get("/one/x");
          if (res.ok() && res->status == 200) {
            ok++;
          } else {
            failed++;
            std::lock_guard<std::mutex> lock(mu);
            if (first_failure.empty()) {
              first_failure = res.ok() ? res->body : std::string(res.status().message());
            }
          }
        }
      });
    }
  }
  ASSERT_TRUE(WaitFor([&] { return ok.load() > 100; }, absl::Seconds(10)));
  ASSERT_TRUE(control_plane_->Signal(SIGKILL).ok());
  ASSERT_TRUE(control_plane_->Wait(absl::Seconds(10)).ok());
  int at_kill = ok.load();
  ASSERT_TRUE(WaitFor([&] { return ok.load() > at_kill + 200; }, absl::Seconds(10)));

  // The control plane comes back on the same address; both data planes reattach and take a change.
  StartControlPlane(grpc_port);
  std::string file = dir_.WriteFile("new/two.json", AppJson("two", {backend_->port()}));
  ASSERT_TRUE(WaitFor(
      [&] {
        CtlResult planes = Valetctl({"-o", "json", "dataplanes"});
        size_t connected = 0;
        for (size_t pos = 0;
             (pos = planes.output.find("\"connected\": true", pos)) != std::string::npos; ++pos) {
          ++connected;
        }
        return connected == 2;
      },
      absl::Seconds(30)));
  CtlResult applied = Valetctl({"apply", "-f", file, "--wait"});
  EXPECT_EQ(applied.code, 0) << applied.output;
  EXPECT_TRUE(Answers(a, "/two/x", 200));
  EXPECT_TRUE(Answers(b, "/two/x", 200));

  stop = true;
  for (auto& t : traffic) t.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
}

TEST_F(ClusterTest, DataPlaneRestartedWithoutControlPlaneServesFromCache) {
  StartControlPlane();
  std::string cache = dir_.Join("cache");
  Dataplane a = StartDataplane("dp-a", {"--cache-dir", cache});
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200));
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(cache + "/snapshot.binpb"); },
                      absl::Seconds(10)));

  ASSERT_TRUE(control_plane_->Signal(SIGKILL).ok());
  ASSERT_TRUE(control_plane_->Wait(absl::Seconds(10)).ok());
  ASSERT_TRUE(a.process->Signal(SIGKILL).ok());
  ASSERT_TRUE(a.process->Wait(absl::Seconds(10)).ok());

  Dataplane again = StartDataplane("dp-a", {"--cache-dir", cache});
  // Serving as soon as it listens: the cached snapshot is installed before the port file.
  EXPECT_TRUE(Answers(again, "/one/x", 200)) << again.process->Log();
}

TEST_F(ClusterTest, RestAdminDrivesTheSameOperations) {
  StartControlPlane();
  Dataplane a = StartDataplane("dp-a");
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200));
  HttpClient admin(http_);

  auto put = admin.Send("PUT", "/v1/apps/three", {{"Content-Type", "application/json"}},
                        AppJson("three", {backend_->port()}));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->status, 200) << put->body;
  EXPECT_TRUE(WaitAnswers(a, "/three/x", 200));

  auto list = admin.Get("/v1/apps");
  ASSERT_TRUE(list.ok());
  EXPECT_NE(list->body.find("\"three\""), std::string::npos) << list->body;

  auto bad = admin.Send("PUT", "/v1/apps/bad", {}, R"({"name": "bad", "endpoints": []})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("endpoints"), std::string::npos) << bad->body;

  auto planes = admin.Get("/v1/dataplanes");
  ASSERT_TRUE(planes.ok());
  EXPECT_NE(planes->body.find("dp-a"), std::string::npos) << planes->body;

  auto del = admin.Send("DELETE", "/v1/apps/three");
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->status, 200) << del->body;
  EXPECT_TRUE(WaitAnswers(a, "/three/x", 404));
  EXPECT_FALSE(std::filesystem::exists(dir_.Join("conf/three.json")));
}

// The real data plane reports on its own schedule (--report-interval-ms) what its metrics count;
// the control plane shows it in `valetctl dataplanes` and the REST admin.
TEST_F(ClusterTest, DataPlaneStatusReportsShowInDataplanes) {
  StartControlPlane();
  Dataplane a = StartDataplane("dp-a", {"--report-interval-ms", "100"});
  ASSERT_TRUE(WaitAnswers(a, "/one/x", 200)) << a.process->Log();
  HttpClient admin(http_);
  // The 200 answers are counted in a later report; the workers come from --workers 2.
  std::string body;
  bool reported = WaitFor(
      [&] {
        auto planes = admin.Get("/v1/dataplanes");
        if (!planes.ok()) return false;
        body = planes->body;
        return body.find("\"workers\": 2") != std::string::npos &&
               body.find("\"requests\": \"0\"") == std::string::npos &&
               body.find("\"requests\": \"") != std::string::npos;
      },
      absl::Seconds(20));
  EXPECT_TRUE(reported) << body;
  EXPECT_NE(body.find("\"lastReportAgeMs\""), std::string::npos) << body;
  CtlResult planes = Valetctl({"dataplanes"});
  ASSERT_EQ(planes.code, 0) << planes.output;
  EXPECT_NE(planes.output.find("LAST REPORT"), std::string::npos) << planes.output;
  EXPECT_NE(planes.output.find("s ago"), std::string::npos) << planes.output;
}

}  // namespace
}  // namespace valet::testing
