// The data plane's connection to the control plane, with the real binaries: what a snapshot cache
// that holds no snapshot does at start, and how soon a data plane re-attaches to a control plane
// that comes back.
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dataplane/snapshot_cache.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"

namespace valet::testing {
namespace {

// Occurrences of `needle` in `haystack`.
int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

class ControlConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    dir_.WriteFile("conf/one.json", AppJson("one", {backend_->port()}));
  }

  // Starts the control plane on 127.0.0.1:`grpc_port` (0 picks one) serving conf/.
  void StartControlPlane(int grpc_port = 0) {
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), grpc_port);
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_port_ = SplitHostPort(cp->grpc)->second;
    http_ = cp->http;
  }

  void StopControlPlane() {
    ASSERT_TRUE(control_plane_->Signal(SIGTERM).ok());
    auto code = control_plane_->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << code.status() << control_plane_->Log();
  }

  // Starts the data plane attached to 127.0.0.1:`grpc_port` with `extra` flags; returns once its
  // listeners are up (the port file is written after the cached snapshot, if any, is installed).
  void StartDataplane(int grpc_port, std::vector<std::string> extra = {}) {
    auto bin = DataplaneBinary();
    ASSERT_TRUE(bin.ok()) << bin.status();
    std::vector<std::string> args = {"--control-plane",
                                     absl::StrCat("127.0.0.1:", grpc_port),
                                     "--id",
                                     "dp-1",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--admin-listen",
                                     "127.0.0.1:0",
                                     "--port-file",
                                     dir_.Join("dp.ports"),
                                     "--workers",
                                     "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = Process::Start(*bin, args);
    ASSERT_TRUE(p.ok()) << p.status();
    dataplane_ = std::move(*p);
    auto ports = WaitForPortFile(dir_.Join("dp.ports"), absl::Seconds(20));
    ASSERT_TRUE(ports.ok()) << ports.status() << dataplane_->Log();
    listen_ = (*ports)["listen"];
    admin_ = (*ports)["admin"];
  }

  int Status(const std::string& address, const std::string& target) {
    HttpClient client(address, absl::Seconds(5));
    auto res = client.Get(target);
    return res.ok() ? res->status : -1;
  }

  // True if the control plane lists data plane `id` as connected.
  bool ControlPlaneSeesConnected(const std::string& id) {
    HttpClient admin(http_, absl::Seconds(5));
    auto res = admin.Get("/v1/dataplanes");
    if (!res.ok() || res->status != 200) return false;
    nlohmann::json list = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (list.is_discarded() || !list.contains("dataplanes")) return false;
    for (const nlohmann::json& dp : list["dataplanes"]) {
      if (dp.value("id", "") == id && dp.value("connected", false)) return true;
    }
    return false;
  }

  std::string CacheDir() const { return dir_.Join("cache"); }
  std::string CacheFile() const { return CacheDir() + "/" + kSnapshotCacheFileName; }

  // The snapshot the control plane would push: app "one" on the test backend.
  v1::ConfigSnapshot GoodSnapshot() const {
    v1::ConfigSnapshot snapshot;
    snapshot.set_version(3);
    snapshot.set_epoch(99);
    v1::AppConfig* app = snapshot.add_apps();
    app->set_name("one");
    v1::Endpoint* endpoint = app->add_endpoints();
    endpoint->set_host("127.0.0.1");
    endpoint->set_port(backend_->port());
    return snapshot;
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::unique_ptr<Process> dataplane_;
  int grpc_port_ = 0;
  std::string http_, listen_, admin_;
};

// The positive control for the test below: a good cache and no control plane serve at once.
TEST_F(ControlConnectionTest, AGoodCacheServesWithoutAControlPlane) {
  ASSERT_TRUE(SaveSnapshotCache(CacheDir(), GoodSnapshot()).ok());
  int dead = *PickClosedPort();
  StartDataplane(dead, {"--cache-dir", CacheDir()});
  EXPECT_EQ(Status(admin_, "/readyz"), 200) << dataplane_->Log();
  EXPECT_EQ(Status(listen_, "/one/x"), 200) << dataplane_->Log();
}

// A cache file that is there but holds no complete snapshot of a version above 0.
struct BadCache {
  std::string name;
  std::string reason;  // In the warning.
  std::function<std::string(const v1::ConfigSnapshot& good)> bytes;
};

void PrintTo(const BadCache& cache, std::ostream* os) { *os << cache.name; }

class BadCacheTest : public ControlConnectionTest,
                     public ::testing::WithParamInterface<BadCache> {};

TEST_P(BadCacheTest, IsNoSnapshotUntilTheControlPlaneAnswers) {
  ::mkdir(CacheDir().c_str(), 0700);
  dir_.WriteFile("cache/" + std::string(kSnapshotCacheFileName), GetParam().bytes(GoodSnapshot()));
  int port = *PickClosedPort();
  StartDataplane(port, {"--cache-dir", CacheDir()});
  // Past the start (the cache was read before the port file) and past a first attach attempt:
  // a good cache would serve by now (the test above).
  ASSERT_TRUE(WaitFor(
      [&] { return dataplane_->Log().find("cannot attach to control plane") != std::string::npos; },
      absl::Seconds(10)))
      << dataplane_->Log();
  std::string log = dataplane_->Log();
  EXPECT_NE(log.find("ignoring the snapshot cache: " + CacheFile() + ": " + GetParam().reason),
            std::string::npos)
      << log;
  EXPECT_EQ(Status(admin_, "/readyz"), 503) << log;
  HttpClient client(listen_);
  auto res = client.Get("/one/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 503, "not_ready");

  // The control plane answers: ready, and the cache holds a good snapshot again.
  StartControlPlane(port);
  ASSERT_TRUE(WaitFor([&] { return Status(admin_, "/readyz") == 200; }, absl::Seconds(20)))
      << dataplane_->Log();
  EXPECT_EQ(Status(listen_, "/one/x"), 200);
  ASSERT_TRUE(WaitFor([&] { return LoadSnapshotCache(CacheDir()).ok(); }, absl::Seconds(10)));
  EXPECT_GE(LoadSnapshotCache(CacheDir())->version(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Caches, BadCacheTest,
    ::testing::Values(
        BadCache{"Empty", "empty file", [](const v1::ConfigSnapshot&) { return std::string(); }},
        BadCache{"VersionZero", "snapshot version 0",
                 [](const v1::ConfigSnapshot& good) {
                   v1::ConfigSnapshot zero = good;
                   zero.set_version(0);
                   return *EncodeSnapshotCache(zero);
                 }},
        BadCache{"CutShortBetweenApps", "cut short",
                 [](const v1::ConfigSnapshot& good) {
                   // Two apps, cut after the first: what is left parses as protobuf.
                   v1::ConfigSnapshot two = good;
                   *two.add_apps() = good.apps(0);
                   two.mutable_apps(1)->set_name("two");
                   v1::ConfigSnapshot first = two;
                   first.clear_epoch();
                   first.mutable_apps()->RemoveLast();
                   std::string full = *EncodeSnapshotCache(two);
                   return full.substr(0, kSnapshotCacheHeaderBytes + first.ByteSizeLong());
                 }},
        BadCache{"Garbage", "not a snapshot cache",
                 [](const v1::ConfigSnapshot&) { return std::string("\x08\x05garbage\xff", 10); }},
        BadCache{"BareProtobuf", "not a snapshot cache",
                 [](const v1::ConfigSnapshot& good) { return good.SerializeAsString(); }}),
    [](const ::testing::TestParamInfo<BadCache>& info) { return info.param.name; });

// After the control plane comes back, the data plane re-attaches within the backoff cap plus
// connect time, however long the control plane was away; a few rounds.
TEST_F(ControlConnectionTest, ReattachesWithinTheBackoffCapAfterAControlPlaneRestart) {
  constexpr absl::Duration kCap = absl::Seconds(5);  // The documented default.
  const absl::Duration kBound = kCap + absl::Seconds(3);
  // Failed attempts in a row after which the wait is at the cap: 100 ms * 2^6 > 5 s.
  constexpr int kFailuresToTheCap = 7;
  constexpr int kRounds = 3;
  StartControlPlane();
  // --verbose: every failed attempt is logged (at DEBUG), so the test can count them.
  StartDataplane(grpc_port_,
                 {"--verbose", "--control-backoff-min-ms", "100", "--control-backoff-max-ms",
                  absl::StrCat(absl::ToInt64Milliseconds(kCap))});
  ASSERT_TRUE(WaitFor([&] { return ControlPlaneSeesConnected("dp-1"); }, absl::Seconds(20)))
      << dataplane_->Log();

  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    int failed_before = Count(dataplane_->Log(), "cannot attach to control plane");
    StopControlPlane();
    ASSERT_TRUE(
        WaitFor([&] { return Count(dataplane_->Log(), "detached from control plane") == round; },
                absl::Seconds(10)))
        << dataplane_->Log();
    // Away long enough for every backoff (ours, and any gRPC might keep) to reach its cap.
    ASSERT_TRUE(WaitFor(
        [&] {
          return Count(dataplane_->Log(), "cannot attach to control plane") >=
                 failed_before + kFailuresToTheCap;
        },
        absl::Seconds(40)))
        << dataplane_->Log();
    EXPECT_EQ(Status(admin_, "/readyz"), 200);  // Still serving its last snapshot.

    StartControlPlane(grpc_port_);
    absl::Time back = absl::Now();
    bool attached =
        WaitFor([&] { return ControlPlaneSeesConnected("dp-1"); }, kBound + absl::Seconds(10));
    absl::Duration took = absl::Now() - back;
    ASSERT_TRUE(attached) << dataplane_->Log();
    EXPECT_LE(took, kBound) << "re-attached after " << took;
    std::cerr << "round " << round << ": re-attached " << took
              << " after the control plane was back\n";
  }
}

}  // namespace
}  // namespace valet::testing
