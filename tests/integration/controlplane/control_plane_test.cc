// The control plane in process with real sockets: a ControlPlaneServer on 127.0.0.1:0, the data
// plane's real ControlClient attached to it, gRPC stubs and a small HTTP client for the REST admin.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "controlplane/server.h"
#include "dataplane/control_client.h"
#include "dataplane/snapshot_cache.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

// Polls `cond` until it holds or `timeout` passes. Returns the last result.
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return cond();
}

v1::AppConfig MakeApp(const std::string& name, uint32_t port = 9050) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("backend.test");
  ep->set_port(port);
  return app;
}

// A fake data plane: records installed snapshots; can refuse versions or hold an install.
class FakeDataPlane {
 public:
  absl::Status Install(const v1::ConfigSnapshot& snapshot) {
    absl::MutexLock lock(&mu_);
    auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_; };
    mu_.Await(absl::Condition(&released));
    received_.push_back(snapshot.version());
    if (refuse_from_ != 0 && snapshot.version() >= refuse_from_) {
      return absl::InvalidArgumentError("route table: conflict on /x");
    }
    serving_ = snapshot.version();
    return absl::OkStatus();
  }
  uint64_t serving() {
    absl::MutexLock lock(&mu_);
    return serving_;
  }
  std::vector<uint64_t> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  void set_serving(uint64_t v) {
    absl::MutexLock lock(&mu_);
    serving_ = v;
  }
  void RefuseFrom(uint64_t v) {
    absl::MutexLock lock(&mu_);
    refuse_from_ = v;
  }
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }

  std::unique_ptr<ControlClient> Client(const std::string& target, const std::string& id,
                                        const std::string& cache_dir = "") {
    ControlClientOptions options;
    options.targets = {target};
    options.id = id;
    options.address = "127.0.0.1:8000";
    options.cache_dir = cache_dir;
    options.min_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(200);
    return ControlClient::Create(
        options, [this](const v1::ConfigSnapshot& s) { return Install(s); },
        [this] { return serving(); });
  }

 private:
  absl::Mutex mu_;
  uint64_t serving_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refuse_from_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<uint64_t> received_ ABSL_GUARDED_BY(mu_);
};

struct HttpResult {
  int status = 0;
  std::string body;
};

HttpResult Http(const std::string& address, const std::string& method, const std::string& target,
                const std::string& body = "") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  std::string host = address.substr(0, address.rfind(':'));
  std::string port = address.substr(address.rfind(':') + 1);
  stream.connect(resolver.resolve(host, port));
  http::request<http::string_body> req(http::string_to_verb(method), target, 11);
  req.set(http::field::host, host);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / absl::StrCat("valet-cp-it-", ::getpid(), "-", ++count_))
                .string();
    fs::remove_all(root_);
    conf_ = root_ + "/conf";
    fs::create_directories(conf_);
    ASSERT_TRUE(WriteAppFile(conf_, MakeApp("first")).ok());
    StartServer("127.0.0.1:0");
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  void StartServer(const std::string& grpc_listen) {
    ControlPlaneOptions options;
    options.conf_dir = conf_;
    options.grpc_listen = grpc_listen;
    options.http_listen = "127.0.0.1:0";
    auto server = ControlPlaneServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::ControlService::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  uint64_t Apply(const std::vector<v1::AppConfig>& apps, grpc::StatusCode expect = grpc::OK) {
    v1::ApplyAppsRequest req;
    for (const auto& a : apps) *req.add_apps() = a;
    v1::ApplyAppsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ApplyApps(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), expect) << s.error_message();
    return resp.version();
  }

  v1::WaitForVersionResponse Wait(uint64_t version, uint32_t timeout_ms = 10000) {
    v1::WaitForVersionRequest req;
    req.set_version(version);
    req.set_timeout_ms(timeout_ms);
    v1::WaitForVersionResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms) +
                     std::chrono::seconds(5));
    grpc::Status s = stub_->WaitForVersion(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::vector<v1::DataPlaneStatus> DataPlanes() {
    v1::ListDataPlanesResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->ListDataPlanes(&ctx, {}, &resp).ok());
    return {resp.dataplanes().begin(), resp.dataplanes().end()};
  }

  static inline int count_ = 0;
  std::string root_, conf_;
  std::unique_ptr<ControlPlaneServer> server_;
  std::unique_ptr<v1::ControlService::Stub> stub_;
};

TEST_F(ControlPlaneTest, SnapshotOnAttachPushOnApplyAndCacheOnAck) {
  FakeDataPlane dp;
  std::string cache = root_ + "/cache";
  auto client = dp.Client(server_->grpc_address(), "dp-1", cache);
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));

  uint64_t v = Apply({MakeApp("second")});
  EXPECT_EQ(v, 2u);
  v1::WaitForVersionResponse w = Wait(v);
  EXPECT_TRUE(w.complete());
  ASSERT_EQ(w.acked_size(), 1);
  EXPECT_EQ(w.acked(0).id(), "dp-1");
  EXPECT_EQ(dp.serving(), 2u);

  std::vector<v1::DataPlaneStatus> dps = DataPlanes();
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_TRUE(dps[0].connected());
  EXPECT_EQ(dps[0].version(), 2u);
  EXPECT_EQ(dps[0].address(), "127.0.0.1:8000");
  EXPECT_GT(dps[0].connected_since().seconds(), 0);

  ASSERT_TRUE(WaitFor([&] {
    auto cached = LoadSnapshotCache(cache);
    return cached.ok() && cached->version() == 2;
  }));
  auto cached = LoadSnapshotCache(cache);
  EXPECT_EQ(cached->apps_size(), 2);
  client->Stop();
  EXPECT_FALSE(client->connected());
  ASSERT_TRUE(WaitFor([&] { return !DataPlanes()[0].connected(); }));
}

TEST_F(ControlPlaneTest, NoSnapshotWhenTheDataPlaneIsCurrent) {
  FakeDataPlane dp;
  dp.set_serving(server_->store()->version());
  auto client = dp.Client(server_->grpc_address(), "dp-current");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  ASSERT_TRUE(WaitFor([&] { return DataPlanes().size() == 1; }));
  EXPECT_TRUE(Wait(0).complete());
  EXPECT_TRUE(dp.received().empty());
}

TEST_F(ControlPlaneTest, NackIsRecordedAndNotCached) {
  FakeDataPlane dp;
  std::string cache = root_ + "/cache";
  auto client = dp.Client(server_->grpc_address(), "dp-nack", cache);
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    auto c = LoadSnapshotCache(cache);
    return c.ok() && c->version() == 1;
  }));
  dp.RefuseFrom(2);
  uint64_t v = Apply({MakeApp("second")});
  v1::WaitForVersionResponse w = Wait(v);
  EXPECT_TRUE(w.complete());
  ASSERT_EQ(w.nacked_size(), 1);
  EXPECT_EQ(w.nacked(0).last_nack_version(), v);
  EXPECT_EQ(w.nacked(0).last_nack_reason(), "route table: conflict on /x");
  std::vector<v1::DataPlaneStatus> dps = DataPlanes();
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_EQ(dps[0].version(), 1u);
  EXPECT_EQ(dps[0].last_nack_reason(), "route table: conflict on /x");
  EXPECT_EQ(dp.serving(), 1u);
  EXPECT_EQ(LoadSnapshotCache(cache)->version(), 1u);
}

TEST_F(ControlPlaneTest, WaitTimesOutWithPendingDataPlanes) {
  FakeDataPlane dp;
  auto client = dp.Client(server_->grpc_address(), "dp-slow");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  dp.Hold(true);
  uint64_t v = Apply({MakeApp("second")});
  v1::WaitForVersionResponse w = Wait(v, 100);
  EXPECT_FALSE(w.complete());
  ASSERT_EQ(w.pending_size(), 1);
  EXPECT_EQ(w.pending(0).id(), "dp-slow");
  dp.Hold(false);
  EXPECT_TRUE(Wait(v).complete());
}

TEST_F(ControlPlaneTest, SnapshotsArriveInOrderAndCoalesceUnderBackpressure) {
  FakeDataPlane dp;
  auto client = dp.Client(server_->grpc_address(), "dp-busy");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  dp.Hold(true);  // The data plane stops reading: the stream fills up.
  // Big snapshots so that flow control holds writes back while the data plane is busy.
  const std::string big(256 * 1024, 'x');
  constexpr int kApplies = 40;
  uint64_t last = 0;
  for (int i = 0; i < kApplies; ++i) {
    v1::AppConfig app = MakeApp(absl::StrCat("app", i));
    app.set_description(big);
    last = Apply({app});
  }
  dp.Hold(false);
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == last; }, absl::Seconds(30)));
  std::vector<uint64_t> got = dp.received();
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
  EXPECT_EQ(got.back(), last);
  // Version 1, then far fewer than every one of the kApplies versions.
  EXPECT_LT(got.size(), static_cast<size_t>(kApplies)) << "no coalescing happened";
}

TEST_F(ControlPlaneTest, ReconnectsAfterTheControlPlaneRestarts) {
  FakeDataPlane dp;
  std::string address = server_->grpc_address();
  auto client = dp.Client(address, "dp-r");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1 && client->connected(); }));
  server_.reset();
  ASSERT_TRUE(WaitFor([&] { return !client->connected(); }));
  EXPECT_EQ(dp.serving(), 1u);  // Keeps serving what it has.
  StartServer(address);
  // The restarted control plane starts above every version it served: the data plane re-syncs.
  EXPECT_EQ(server_->store()->version(), 2u);
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 2 && client->connected(); }));
  ASSERT_EQ(DataPlanes().size(), 1u);
  EXPECT_EQ(DataPlanes()[0].version(), 2u);
}

TEST_F(ControlPlaneTest, ControlApiOverGrpc) {
  // Refused: nothing changes.
  Apply({MakeApp("bad", 0)}, grpc::INVALID_ARGUMENT);
  {
    v1::ApplyAppsRequest req;
    *req.add_apps() = MakeApp("x");
    req.set_expected_version(99);
    v1::ApplyAppsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub_->ApplyApps(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::FAILED_PRECONDITION);
  }
  {
    v1::GetVersionResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->GetVersion(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.version(), 1u);
  }
  {
    v1::ValidateRequest req;
    *req.add_apps() = MakeApp("bad", 0);
    v1::ValidateResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Validate(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.errors_size(), 1);
    EXPECT_EQ(resp.errors(0), "apps[0]: endpoints[0].port: 0 is out of range (1..65535)");
  }
  // Watch: the current version first, then each change.
  grpc::ClientContext watch_ctx;
  auto watch = stub_->WatchVersions(&watch_ctx, {});
  v1::VersionEvent event;
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.version(), 1u);
  EXPECT_EQ(Apply({MakeApp("second")}), 2u);
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.version(), 2u);
  EXPECT_EQ(event.changed_apps_size(), 1);
  {
    v1::DeleteAppRequest req;
    req.set_name("first");
    v1::DeleteAppResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->DeleteApp(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.version(), 3u);
  }
  ASSERT_TRUE(watch->Read(&event));
  EXPECT_EQ(event.version(), 3u);
  ASSERT_EQ(event.deleted_apps_size(), 1);
  EXPECT_EQ(event.deleted_apps(0), "first");
  {
    v1::GetAppRequest req;
    req.set_name("first");
    v1::GetAppResponse resp;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->GetApp(&ctx, req, &resp).error_code(), grpc::NOT_FOUND);
  }
  watch_ctx.TryCancel();
  while (watch->Read(&event)) {
  }
  watch->Finish();
  // Health service is on.
  // (Checked by the e2e tests with generic tools; the server exposes grpc.health.v1.Health.)
}

TEST_F(ControlPlaneTest, RestAdmin) {
  const std::string http = server_->http_address();
  HttpResult r = Http(http, "GET", "/v1/apps");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"first\""), std::string::npos) << r.body;

  r = Http(http, "PUT", "/v1/apps/second",
           R"({"endpoints": [{"host": "b.test", "port": 81}], "authorize": false})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"version\": \"2\""), std::string::npos) << r.body;
  EXPECT_TRUE(fs::exists(conf_ + "/second.json"));

  r = Http(http, "GET", "/v1/apps/second");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("b.test"), std::string::npos) << r.body;

  // Precise parse errors, name mismatch, stale version, unknown app, dry run.
  r = Http(http, "PUT", "/v1/apps/second", R"({"endpoints": [{"host": "b.test", "port": "x"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"code\":\"INVALID_ARGUMENT\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("endpoints[0].port"), std::string::npos) << r.body;
  r = Http(http, "PUT", "/v1/apps/second", R"({"name": "other", "endpoints": []})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Http(http, "PUT", "/v1/apps/third?expected_version=1",
           R"({"endpoints": [{"host": "c.test", "port": 80}]})");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("\"status\":409"), std::string::npos) << r.body;
  r = Http(http, "PUT", "/v1/apps/third?dry_run=true",
           R"({"endpoints": [{"host": "c.test", "port": 80}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(fs::exists(conf_ + "/third.json"));
  r = Http(http, "GET", "/v1/apps/nope");
  EXPECT_EQ(r.status, 404);
  r = Http(http, "DELETE", "/v1/apps/nope");
  EXPECT_EQ(r.status, 404);
  r = Http(http, "POST", "/v1/apps");
  EXPECT_EQ(r.status, 405);

  r = Http(http, "DELETE", "/v1/apps/second?expected_version=2");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(fs::exists(conf_ + "/second.json"));

  ASSERT_TRUE(WriteAppFile(conf_, MakeApp("fromdisk")).ok());
  r = Http(http, "POST", "/v1/reload");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"version\": \"4\""), std::string::npos) << r.body;

  r = Http(http, "GET", "/v1/version");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"4\""), std::string::npos) << r.body;

  FakeDataPlane dp;
  auto client = dp.Client(server_->grpc_address(), "dp-rest");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 4; }));
  r = Http(http, "GET", "/v1/wait?version=4&timeout_ms=5000");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"complete\": true"), std::string::npos) << r.body;
  r = Http(http, "GET", "/v1/dataplanes");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("dp-rest"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"connected\": true"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace valet
