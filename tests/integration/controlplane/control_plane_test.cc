// The control plane in process with real sockets: a ControlPlaneServer on 127.0.0.1:0, the data
// plane's real ControlClient attached to it, gRPC stubs and a small HTTP client for the REST admin.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/app_config_json.h"
#include "common/conf_dir.h"
#include "common/message_limits.h"
#include "common/secret_redaction.h"
#include "common/validation_errors.h"
#include "controlplane/server.h"
#include "dataplane/control_client.h"
#include "dataplane/snapshot_cache.h"
#include "tests/support/binaries.h"
#include "tests/support/fake_data_plane.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using testing::FakeDataPlane;

// testing::WaitFor with the deadline these tests use unless they say otherwise.
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout = absl::Seconds(10)) {
  return testing::WaitFor(cond, timeout);
}

v1::AppConfig MakeApp(const std::string& name, uint32_t port = 9050) {
  v1::AppConfig app;
  app.set_name(name);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("backend.test");
  ep->set_port(port);
  return app;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

// One request to the REST admin at `address`; status 0 and the error as the body if it failed.
HttpResult Http(const std::string& address, const std::string& method, const std::string& target,
                const std::string& body = "") {
  testing::HttpClient client(address);
  absl::StatusOr<testing::HttpResponse> res = client.Send(method, target, {}, body);
  if (!res.ok()) return {0, res.status().ToString()};
  return {res->status, res->body};
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    conf_ = root_ + "/conf";
    fs::create_directories(conf_);
    ASSERT_TRUE(WriteAppFile(conf_, MakeApp("first")).ok());
    StartServer("127.0.0.1:0");
  }
  void TearDown() override { server_.reset(); }

  void StartServer(const std::string& grpc_listen, std::function<void()> before_write = nullptr) {
    ControlPlaneOptions options;
    options.conf_dir = conf_;
    options.grpc_listen = grpc_listen;
    options.debug_before_write = std::move(before_write);
    options.http_listen = "127.0.0.1:0";
    auto server = ControlPlaneServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = v1::ControlService::NewStub(
        grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials()));
  }

  // A data plane attached and serving version 1 that then holds every new snapshot unanswered,
  // and the version of an apply it is holding back. Released (and detached) when destroyed.
  struct HeldDataPlane {
    FakeDataPlane dp;
    std::unique_ptr<ControlClient> client;
    uint64_t held_version = 0;
    ~HeldDataPlane() {
      dp.Hold(false);
      if (client) client->Stop();
    }
  };
  std::unique_ptr<HeldDataPlane> AttachHeldDataPlane(const std::string& id) {
    auto held = std::make_unique<HeldDataPlane>();
    held->client = held->dp.Client(server_->grpc_address(), id);
    held->client->Start();
    EXPECT_TRUE(WaitFor([&] { return held->dp.serving() == 1; }));
    held->dp.Hold(true);
    held->held_version = Apply({MakeApp("second")});
    return held;
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

  testing::TempDir tmp_;  // First: removed after everything that uses it is gone.
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
  dp.set_serving(server_->store()->version(), server_->store()->epoch());
  auto client = dp.Client(server_->grpc_address(), "dp-current");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  ASSERT_TRUE(WaitFor([&] { return DataPlanes().size() == 1; }));
  EXPECT_TRUE(Wait(0).complete());
  // The stream delivers in order and a snapshot offered on attach is already being written when
  // the next version is published, so had one been sent, it would arrive before this one.
  uint64_t v = Apply({MakeApp("second")});
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == v; }));
  EXPECT_EQ(dp.received(), (std::vector<uint64_t>{v}));
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
  EXPECT_EQ(w.nacked(0).last_nack_reason(), absl::StrCat("fake refusal of version ", v));
  std::vector<v1::DataPlaneStatus> dps = DataPlanes();
  ASSERT_EQ(dps.size(), 1u);
  EXPECT_EQ(dps[0].version(), 1u);
  EXPECT_EQ(dps[0].last_nack_reason(), absl::StrCat("fake refusal of version ", v));
  EXPECT_EQ(dp.serving(), 1u);
  EXPECT_EQ(LoadSnapshotCache(cache)->version(), 1u);
}

TEST_F(ControlPlaneTest, WaitTimesOutWithPendingDataPlanes) {
  auto held = AttachHeldDataPlane("dp-slow");
  uint64_t v = held->held_version;
  v1::WaitForVersionResponse w = Wait(v, 100);
  EXPECT_FALSE(w.complete());
  ASSERT_EQ(w.pending_size(), 1);
  EXPECT_EQ(w.pending(0).id(), "dp-slow");
  held->dp.Hold(false);
  EXPECT_TRUE(Wait(v).complete());
}

TEST_F(ControlPlaneTest, SnapshotsArriveInOrderAndCoalesceUnderBackpressure) {
  FakeDataPlane dp;
  auto client = dp.Client(server_->grpc_address(), "dp-busy");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  dp.Hold(true);  // The data plane stops reading: the stream fills up.
  // Big snapshots (256 KiB per app, each field within its size limit) so that flow control holds
  // writes back while the data plane is busy.
  const std::string big_path = "/" + std::string(kMaxEndpointPathBytes - 1, 'x');
  constexpr int kApplies = 40;
  uint64_t last = 0;
  for (int i = 0; i < kApplies; ++i) {
    v1::AppConfig app = MakeApp(absl::StrCat("app", i));
    app.mutable_endpoints(0)->set_path(big_path);
    while (app.endpoints_size() < 128) *app.add_endpoints() = app.endpoints(0);
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
  // The apps did not change: the restarted control plane keeps (epoch, version), so the data
  // plane is current as it attaches and downloads nothing.
  EXPECT_EQ(server_->store()->version(), 1u);
  ASSERT_TRUE(WaitFor([&] {
    std::vector<v1::DataPlaneStatus> planes = DataPlanes();
    return client->connected() && planes.size() == 1 && planes[0].connected() &&
           planes[0].version() == 1;
  }));
  // The next version is the first snapshot it receives since version 1.
  uint64_t v = Apply({MakeApp("second")});
  EXPECT_EQ(v, 2u);
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 2; }));
  EXPECT_EQ(dp.received(), (std::vector<uint64_t>{1, 2}));
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
    EXPECT_EQ(resp.errors(0).file(), "apps[0]");
    EXPECT_EQ(resp.errors(0).path(), "endpoints[0].port");
    EXPECT_EQ(resp.errors(0).reason(), "must be 1..65535");
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

// GET /v1/apps/{name} answers the app in its conf-file form, which PUT takes back unchanged: for
// every valid fixture and example app, PUT the file, GET it, PUT what GET said, GET the same.
TEST_F(ControlPlaneTest, RestGetIsAcceptedByPutUnchanged) {
  testing::HttpClient http(server_->http_address());
  size_t files = 0;
  // Apps without fan-out routes first: a route may name another example app, which must exist.
  std::vector<fs::path> paths;
  for (const std::string& dir : {std::string(VALET_FIXTURES_DIR) + "/valid",
                                 std::string(VALET_EXAMPLE_CONF_DIR) + "/apps"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".json") paths.push_back(entry.path());
    }
  }
  auto has_routes = [](const fs::path& path) {
    absl::StatusOr<std::string> text = ReadFile(path.string());
    return text.ok() && text->find("\"routes\"") != std::string::npos;
  };
  std::stable_partition(paths.begin(), paths.end(),
                        [&](const fs::path& p) { return !has_routes(p); });
  for (const fs::path& path : paths) {
    ++files;
    absl::StatusOr<std::string> text = ReadFile(path.string());
    ASSERT_TRUE(text.ok()) << text.status();
    absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(*text, path.string());
    ASSERT_TRUE(app.ok()) << app.status();
    const std::string target = "/v1/apps/" + app->name();
    auto put = http.Send("PUT", target, {}, *text);
    ASSERT_TRUE(put.ok()) << put.status();
    ASSERT_EQ(put->status, 200) << path << ": " << put->body;
    auto got = http.Send("GET", target);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(got->Header("ETag"), absl::StrCat("\"", server_->store()->version(), "\""));
    absl::StatusOr<v1::AppConfig> served = ParseAppConfigJson(got->body, "GET");
    ASSERT_TRUE(served.ok()) << served.status() << "\n" << got->body;
    // Keys are shown redacted.
    EXPECT_EQ(served->SerializeAsString(), RedactSecrets(*app).SerializeAsString()) << got->body;

    auto again = http.Send("PUT", target, {}, got->body);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->status, 200) << path << ": " << again->body;
    auto regot = http.Send("GET", target);
    ASSERT_TRUE(regot.ok()) << regot.status();
    EXPECT_EQ(regot->body, got->body) << path;
    // The redacted keys PUT back kept the stored ones.
    absl::StatusOr<v1::AppConfig> stored = server_->store()->Get(app->name());
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->SerializeAsString(), app->SerializeAsString()) << path;
    // The list carries each app in the same form.
    HttpResult list = Http(server_->http_address(), "GET", "/v1/apps");
    EXPECT_NE(list.body.find("\"name\": \"" + app->name() + "\""), std::string::npos) << list.body;
  }
  EXPECT_GE(files, 4u);
}

// A refused change carries its errors as data: gRPC status details and REST "details", each with
// file, JSON path and reason.
TEST_F(ControlPlaneTest, RefusalsCarryTheErrorList) {
  v1::AppConfig bad = MakeApp("bad", 0);
  bad.mutable_endpoints(0)->set_host("");
  v1::ApplyAppsRequest req;
  *req.add_apps() = MakeApp("fine");
  *req.add_apps() = bad;
  v1::ApplyAppsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub_->ApplyApps(&ctx, req, &resp);
  ASSERT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  absl::Status status = StatusFromGrpc(s.error_code(), s.error_message(), s.error_details());
  ASSERT_TRUE(HasValidationErrors(status)) << s.error_message();
  std::vector<v1::ValidationError> errors = ValidationErrorsOf(status);
  ASSERT_EQ(errors.size(), 2u) << s.error_message();
  EXPECT_EQ(errors[0].file(), "apps[1]");
  EXPECT_EQ(errors[0].path(), "endpoints[0].host");
  EXPECT_EQ(errors[0].reason(), "is required");
  EXPECT_EQ(errors[1].path(), "endpoints[0].port");
  EXPECT_EQ(errors[1].reason(), "must be 1..65535");

  HttpResult r = Http(server_->http_address(), "PUT", "/v1/apps/second",
                      R"({"endpoints": [{"host": "b.test", "port": "x"}], "rateLimt": true})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("code":"invalid_argument")"), std::string::npos) << r.body;
  EXPECT_NE(
      r.body.find(R"json("details":[{"file":"request","path":"rateLimt",)json"
                  R"json("reason":"unknown field \"rateLimt\" (did you mean \"rateLimit\"?)"},)json"
                  R"json({"file":"request","path":"endpoints[0].port",)json"
                  R"json("reason":"expected a number, got a string"}])json"),
      std::string::npos)
      << r.body;
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
  EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos) << r.body;
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
  EXPECT_NE(r.body.find(R"({"error":{"status":404,"code":"not_found","message":)"),
            std::string::npos)
      << r.body;
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

// The bytes of a generic call's answer.
std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// grpc.health.v1.Health/Check for `service`, by hand (no health stubs are installed):
// HealthCheckRequest{service = 1}; the answer's status (field 1) is 1 for SERVING.
grpc::Status HealthCheck(const std::string& address, const std::string& service,
                         std::string* answer) {
  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::string request;
  if (!service.empty()) {
    request = std::string("\x0a", 1) + static_cast<char>(service.size()) + service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &in, &out,
                 [&](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  *answer = Bytes(out);
  return status;
}

const std::string kServing("\x08\x01", 2);

TEST_F(ControlPlaneTest, HealthAnswersForEachService) {
  for (const std::string service : {"", "valet.v1.ControlService", "valet.v1.AttachService"}) {
    std::string answer;
    grpc::Status s = HealthCheck(server_->grpc_address(), service, &answer);
    ASSERT_TRUE(s.ok()) << service << ": " << s.error_message();
    EXPECT_EQ(answer, kServing) << service;
  }
  std::string answer;
  EXPECT_EQ(HealthCheck(server_->grpc_address(), "valet.v1.Nope", &answer).error_code(),
            grpc::NOT_FOUND);
}

// Server reflection (v1alpha, what gRPC 1.51 serves) lists the services.
class ReflectionCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit ReflectionCall(const std::string& address)
      : stub_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())) {
    // ServerReflectionRequest{list_services = 7: "*"}.
    grpc::Slice slice(std::string("\x3a\x01*", 3));
    request_ = grpc::ByteBuffer(&slice, 1);
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    stub_.PrepareBidiStreamingCall(&ctx_,
                                   "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (ok) answer_ = Bytes(response_);
  }
  void OnDone(const grpc::Status& s) override { done_.set_value(s); }
  grpc::Status Wait() { return done_.get_future().get(); }
  const std::string& answer() const { return answer_; }

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_, response_;
  std::string answer_;
  std::promise<grpc::Status> done_;
};

TEST_F(ControlPlaneTest, ReflectionListsTheServices) {
  ReflectionCall call(server_->grpc_address());
  grpc::Status s = call.Wait();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_NE(call.answer().find("valet.v1.ControlService"), std::string::npos);
  EXPECT_NE(call.answer().find("valet.v1.AttachService"), std::string::npos);
  EXPECT_NE(call.answer().find("grpc.health.v1.Health"), std::string::npos);
}

TEST_F(ControlPlaneTest, ShutdownReportsNotServing) {
  FakeDataPlane dp;  // An attached stream keeps the server in its grace period.
  auto client = dp.Client(server_->grpc_address(), "dp-h");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  std::string address = server_->grpc_address();
  std::thread stopper([&] { server_->Shutdown(absl::Seconds(3)); });
  // During the grace period new calls are refused, so NOT_SERVING shows as a failed check.
  bool not_serving = WaitFor([&] {
    std::string answer;
    grpc::Status s = HealthCheck(address, "valet.v1.ControlService", &answer);
    return !s.ok() || answer != kServing;
  });
  stopper.join();
  client->Stop();
  EXPECT_TRUE(not_serving);
}

TEST_F(ControlPlaneTest, ASnapshotOfAnotherEpochIsReplaced) {
  FakeDataPlane dp;
  // Same version number, other numbering (e.g. a conf dir whose version file was reset).
  const uint64_t version = server_->store()->version();
  dp.set_serving(version, server_->store()->epoch() + 1);
  auto client = dp.Client(server_->grpc_address(), "dp-epoch");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.received().size() == 1; }));
  EXPECT_EQ(dp.received()[0], version);
  EXPECT_EQ(dp.served().epoch, server_->store()->epoch());
  ASSERT_TRUE(
      WaitFor([&] { return DataPlanes().size() == 1 && DataPlanes()[0].version() == version; }));
}

TEST_F(ControlPlaneTest, PendingWaitsAreAnsweredBeforeShutdown) {
  auto held = AttachHeldDataPlane("dp-held");
  uint64_t v = held->held_version;
  std::promise<std::pair<grpc::Status, v1::WaitForVersionResponse>> answer;
  std::thread waiter([&] {
    v1::WaitForVersionRequest req;
    req.set_version(v);
    req.set_timeout_ms(60000);
    v1::WaitForVersionResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub_->WaitForVersion(&ctx, req, &resp);
    answer.set_value({s, resp});
  });
  ASSERT_TRUE(WaitFor([&] { return server_->registry()->pending_waits() == 1; }));
  absl::Time start = absl::Now();
  std::thread stopper([&] { server_->Shutdown(absl::Seconds(5)); });
  auto [status, response] = answer.get_future().get();
  absl::Duration took = absl::Now() - start;
  waiter.join();
  stopper.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.complete());
  EXPECT_EQ(response.pending_size(), 1);
  EXPECT_LT(took, absl::Seconds(4));  // Answered at once, not at the end of the grace period.
}

TEST_F(ControlPlaneTest, ACancelledWaitLeavesTheRegistry) {
  auto held = AttachHeldDataPlane("dp-held");
  uint64_t v = held->held_version;
  v1::WaitForVersionRequest req;
  req.set_version(v);
  req.set_timeout_ms(60000);
  v1::WaitForVersionResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  EXPECT_EQ(stub_->WaitForVersion(&ctx, req, &resp).error_code(), grpc::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitFor([&] { return server_->registry()->pending_waits() == 0; }));
  held->dp.Hold(false);
}

TEST_F(ControlPlaneTest, ARestWaitEndsWhenItsClientHangsUp) {
  auto held = AttachHeldDataPlane("dp-held");
  uint64_t v = held->held_version;
  auto [host, port] = *testing::SplitHostPort(server_->http_address());
  // The client gives up after 300 ms and closes; its wait must not live on for a minute.
  auto raw = testing::SendRaw(
      host, port,
      absl::StrCat("GET /v1/wait?version=", v, "&timeout_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n"),
      absl::Milliseconds(300));
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_TRUE(raw->empty()) << *raw;
  EXPECT_TRUE(WaitFor([&] { return server_->registry()->pending_waits() == 0; }));
}

TEST_F(ControlPlaneTest, ARestWaitIsAnsweredAtShutdown) {
  auto held = AttachHeldDataPlane("dp-held");
  uint64_t v = held->held_version;
  testing::HttpClient http(server_->http_address(), absl::Seconds(20));
  std::promise<absl::StatusOr<testing::HttpResponse>> answer;
  std::thread waiter([&] {
    answer.set_value(http.Get(absl::StrCat("/v1/wait?version=", v, "&timeout_ms=60000")));
  });
  ASSERT_TRUE(WaitFor([&] { return server_->registry()->pending_waits() == 1; }));
  server_->Shutdown(absl::Seconds(1));
  absl::StatusOr<testing::HttpResponse> res = answer.get_future().get();
  waiter.join();
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("\"complete\": false"), std::string::npos) << res->body;
}

TEST_F(ControlPlaneTest, RestHeadIsGetWithoutTheBody) {
  testing::HttpClient http(server_->http_address());
  auto head = http.Send("HEAD", "/v1/version");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_NE(head->Header("Content-Length"), "0");
}

TEST_F(ControlPlaneTest, DeleteDryRunChangesNothing) {
  v1::DeleteAppRequest req;
  req.set_name("first");
  req.set_dry_run(true);
  v1::DeleteAppResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->DeleteApp(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.version(), 1u);
  EXPECT_TRUE(fs::exists(conf_ + "/first.json"));
  HttpResult r = Http(server_->http_address(), "DELETE", "/v1/apps/first?dry_run=true");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(fs::exists(conf_ + "/first.json"));
  r = Http(server_->http_address(), "DELETE", "/v1/apps/nope?dry_run=true");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(server_->store()->version(), 1u);
}

// Last-wins would let "?dry_run=true&dry_run=false" delete for real and
// "?expected_version=7&expected_version=0" skip the check: a repeated parameter is refused, as is
// one the route does not take.
TEST_F(ControlPlaneTest, RestRefusesRepeatedAndUnknownQueryParameters) {
  const std::string http = server_->http_address();
  const std::string app = R"({"endpoints": [{"host": "c.test", "port": 80}]})";
  struct Case {
    std::string method, target, body, says;
  };
  const std::vector<Case> cases = {
      {"DELETE", "/v1/apps/first?dry_run=true&dry_run=false", "",
       "dry_run is given more than once"},
      {"DELETE", "/v1/apps/first?expected_version=7&expected_version=0", "",
       "expected_version is given more than once"},
      {"DELETE", "/v1/apps/first?dry_run=true&dry_run=true", "", "more than once"},
      {"PUT", "/v1/apps/third?dry_run=true&dry_run=false", app, "more than once"},
      {"PUT", "/v1/apps/third?expected_version=9&expected_version=0", app, "more than once"},
      {"GET", "/v1/wait?version=1&version=2&timeout_ms=10", "", "version is given more than once"},
      // Parameters of other routes, and unknown ones.
      {"GET", "/v1/apps?dry_run=true", "",
       R"(unknown query parameter \"dry_run\": this route takes none)"},
      {"GET", "/v1/apps/first?expected_version=1", "", "unknown query parameter"},
      {"POST", "/v1/reload?dry_run=true", "", "unknown query parameter"},
      {"DELETE", "/v1/apps/first?timeout_ms=5", "",
       R"(unknown query parameter \"timeout_ms\": this route takes dry_run, expected_version)"},
      {"DELETE", "/v1/apps/first?dryrun=true", "", R"(unknown query parameter \"dryrun\")"},
      {"GET", "/v1/version?" + std::string(200, 'k') + "=1", "", "(200 characters)"},
      // Bad values.
      {"DELETE", "/v1/apps/first?dry_run=yes", "", "dry_run: expected true or false"},
      {"DELETE", "/v1/apps/first?expected_version=-1", "", "expected_version: expected a number"},
      {"GET", "/v1/wait?version=1&timeout_ms=soon", "", "timeout_ms: expected a number"},
  };
  for (const Case& c : cases) {  // `says` as it appears in the JSON body (quotes escaped).
    HttpResult r = Http(http, c.method, c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.method << " " << c.target << ": " << r.body;
    EXPECT_NE(r.body.find("\"code\":\"invalid_argument\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << c.target << ": " << r.body;
    EXPECT_LT(r.body.size(), 400u) << r.body;  // A long parameter is not echoed whole.
  }
  EXPECT_TRUE(fs::exists(conf_ + "/first.json"));
  EXPECT_FALSE(fs::exists(conf_ + "/third.json"));
  EXPECT_EQ(server_->store()->version(), 1u);

  // Each parameter once still works.
  HttpResult r = Http(http, "DELETE", "/v1/apps/first?dry_run=true&expected_version=1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(fs::exists(conf_ + "/first.json"));
}

// The first line of the answer to `bytes` sent raw to the REST admin, and whether the server
// closed the connection after it.
struct RawAnswer {
  std::string status_line;
  std::string text;
  bool closed = false;
};
RawAnswer SendRawTo(const std::string& address, const std::string& bytes) {
  auto [host, port] = *testing::SplitHostPort(address);
  RawAnswer answer;
  absl::StatusOr<std::string> out =
      testing::SendRaw(host, port, bytes, absl::Seconds(10), &answer.closed);
  if (!out.ok()) return answer;
  answer.text = *out;
  answer.status_line = out->substr(0, out->find("\r\n"));
  return answer;
}

// Malformed HTTP is answered (400, 414, 431) with a JSON error, not dropped, and the connection
// closes after the answer.
TEST_F(ControlPlaneTest, RestAnswersMalformedHttp) {
  const std::string http = server_->http_address();
  struct Case {
    std::string name, bytes, status_line, code;
  };
  const std::vector<Case> cases = {
      {"two equal Content-Lengths",
       "GET /v1/version HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"
       "hello",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"two different Content-Lengths",
       "POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
       "hello!",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"Content-Length and Transfer-Encoding",
       "POST /v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"Transfer-Encoding and Content-Length",
       "POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 5\r\n\r\n0\r\n\r\n",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"a coding other than chunked, then Content-Length",
       "POST /v1/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
       "Content-Length: 5\r\n\r\nhello",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"a garbage request line", "\x16\x03\x01 garbage\r\n\r\n", "HTTP/1.1 400 Bad Request",
       "bad_request"},
      {"a request line without a version", "GET /v1/version\r\nHost: x\r\n\r\n",
       "HTTP/1.1 400 Bad Request", "bad_request"},
      {"a 20 KB header",
       "GET /v1/version HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large", "header_too_large"},
      {"a 10,000-character path",
       "GET /v1/apps/" + std::string(10000, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n",
       "HTTP/1.1 414 URI Too Long", "uri_too_long"},
      {"a 20,000-character path (past the header limit too)",
       "GET /v1/apps/" + std::string(20000, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n",
       "HTTP/1.1 414 URI Too Long", "uri_too_long"},
  };
  for (const Case& c : cases) {
    RawAnswer answer = SendRawTo(http, c.bytes);
    EXPECT_EQ(answer.status_line, c.status_line) << c.name << ":\n" << answer.text;
    EXPECT_NE(answer.text.find("\"code\":\"" + c.code + "\""), std::string::npos) << c.name << ":\n"
                                                                                  << answer.text;
    EXPECT_NE(answer.text.find("Connection: close"), std::string::npos) << c.name;
    EXPECT_TRUE(answer.closed) << c.name;
    EXPECT_LT(answer.text.size(), 1000u) << c.name << ": echoes the request?";
  }
  // Nothing of it was acted on; a good request on a new connection is served.
  EXPECT_EQ(server_->store()->version(), 1u);
  EXPECT_EQ(Http(http, "GET", "/v1/version").status, 200);
}

// A 405 says which methods the resource takes (Allow), on every route.
TEST_F(ControlPlaneTest, Rest405SaysWhatIsAllowed) {
  testing::HttpClient http(server_->http_address());
  struct Case {
    std::string method, target, allow;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/apps", "GET, HEAD"},     {"PATCH", "/v1/apps/first", "GET, HEAD, PUT, DELETE"},
      {"GET", "/v1/reload", "POST"},         {"DELETE", "/v1/dataplanes", "GET, HEAD"},
      {"PUT", "/v1/version", "GET, HEAD"},   {"HEAD", "/v1/wait?version=1", "GET"},
      {"POST", "/v1/wait?version=1", "GET"},
  };
  for (const Case& c : cases) {
    auto res = http.Send(c.method, c.target);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 405) << c.method << " " << c.target;
    EXPECT_EQ(res->Header("Allow"), c.allow) << c.method << " " << c.target;
    if (c.method != "HEAD") {
      EXPECT_NE(res->body.find("\"code\":\"method_not_allowed\""), std::string::npos) << res->body;
    }
  }
}

TEST_F(ControlPlaneTest, OneControlPlanePerConfDirAndPerPort) {
  ControlPlaneOptions options;
  options.conf_dir = conf_;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "";
  auto same_dir = ControlPlaneServer::Start(options);
  ASSERT_FALSE(same_dir.ok());
  EXPECT_EQ(same_dir.status().message(),
            absl::StrCat("conf dir ", conf_, " is in use by another valet-controlplane (pid ",
                         ::getpid(), ")"));
  options.conf_dir = root_ + "/other";
  fs::create_directories(options.conf_dir);
  options.grpc_listen = server_->grpc_address();
  auto same_port = ControlPlaneServer::Start(options);
  EXPECT_FALSE(same_port.ok()) << "a second control plane shares " << server_->grpc_address();
}

TEST_F(ControlPlaneTest, ListenWithoutHostMeansEveryInterface) {
  server_.reset();
  ControlPlaneOptions options;
  options.conf_dir = conf_;
  options.grpc_listen = ":0";
  options.http_listen = "";
  options.insecure = true;  // Beyond loopback without TLS and tokens (docs/security.md).
  auto server = ControlPlaneServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string& address = (*server)->grpc_address();
  ASSERT_EQ(address.rfind("0.0.0.0:", 0), 0u) << address;
  auto stub = v1::ControlService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + address.substr(8), grpc::InsecureChannelCredentials()));
  v1::GetVersionResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_TRUE(stub->GetVersion(&ctx, {}, &resp).ok());
}

// Redirects stderr (fd 2) to a file while alive; text() reads what was written so far.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    saved_ = ::dup(2);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() {
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  std::string text() const {
    absl::StatusOr<std::string> t = ReadFile(path_);
    return t.ok() ? *t : "";
  }

 private:
  std::string path_;
  int saved_;
};

TEST_F(ControlPlaneTest, AFailedAttachIsAWarning) {
  absl::StatusOr<int> dead_port = testing::PickClosedPort();
  ASSERT_TRUE(dead_port.ok()) << dead_port.status();
  std::string dead = absl::StrCat("127.0.0.1:", *dead_port);
  FakeDataPlane dp;
  std::string log;
  {
    StderrCapture capture(root_ + "/stderr");
    auto client = dp.Client(dead, "dp-lonely");
    client->Start();
    WaitFor([&] { return capture.text().find("cannot attach") != std::string::npos; });
    client->Stop();
    log = capture.text();
  }
  EXPECT_NE(log.find(" W "), std::string::npos) << log;
  EXPECT_NE(log.find("cannot attach to control plane " + dead), std::string::npos) << log;
}

// A control plane that freezes (SIGSTOP: the connection stays open, nothing answers) is noticed
// by keepalive and left for the next one within keepalive time + timeout + attach timeout.
TEST_F(ControlPlaneTest, AFrozenControlPlaneIsLeftWithinTheKeepaliveBound) {
  auto bin = testing::ControlplaneBinary();
  ASSERT_TRUE(bin.ok()) << bin.status();
  std::string conf_a = root_ + "/conf-a";
  fs::create_directories(conf_a);
  ASSERT_TRUE(WriteAppFile(conf_a, MakeApp("first")).ok());
  std::string ports = root_ + "/a.ports";
  auto a = testing::Process::Start(*bin, {"--conf-dir", conf_a, "--grpc-listen", "127.0.0.1:0",
                                          "--http-listen", "127.0.0.1:0", "--port-file", ports});
  ASSERT_TRUE(a.ok()) << a.status();
  auto a_ports = testing::WaitForPortFile(ports, absl::Seconds(20));
  ASSERT_TRUE(a_ports.ok()) << a_ports.status() << (*a)->Log();

  FakeDataPlane dp;
  ControlClientOptions options;
  options.targets = {(*a_ports)["grpc"], server_->grpc_address()};
  options.keepalive_time = absl::Seconds(1);
  options.keepalive_timeout = absl::Seconds(1);
  options.attach_timeout = absl::Seconds(1);
  auto client = dp.Client(options, "dp-ka");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return client->connected(); }));
  ASSERT_TRUE(DataPlanes().empty()) << "attached to the second control plane first";
  // Before the first ping is due (the live control plane permits one every 5 s).
  ASSERT_TRUE((*a)->Signal(SIGSTOP).ok());
  absl::Time frozen = absl::Now();
  bool moved = WaitFor(
      [&] {
        std::vector<v1::DataPlaneStatus> dps = DataPlanes();
        return dps.size() == 1 && dps[0].connected() && client->connected();
      },
      absl::Seconds(15));
  absl::Duration took = absl::Now() - frozen;
  EXPECT_TRUE((*a)->Signal(SIGCONT).ok());
  client->Stop();
  ASSERT_TRUE(moved) << "still attached to the frozen control plane";
  EXPECT_LT(took, absl::Seconds(8));
}

// The attach stream's data plane side sends on its own schedule: status reports every interval.
TEST_F(ControlPlaneTest, StatusReportsReachTheRegistryInOrder) {
  FakeDataPlane dp;
  dp.SetCounters(42, 7);
  ControlClientOptions options;
  options.targets = {server_->grpc_address()};
  options.report_interval = absl::Milliseconds(50);
  auto client = dp.Client(options, "dp-report");
  client->Start();
  ASSERT_TRUE(WaitFor([&] {
    std::vector<v1::DataPlaneStatus> dps = DataPlanes();
    return dps.size() == 1 && dps[0].reports() >= 3;
  }));
  v1::DataPlaneStatus status = DataPlanes()[0];
  // Numbered 1, 2, ... per stream: the last one received is the count received, so none was lost
  // or overtaken.
  EXPECT_EQ(status.last_report().sequence(), status.reports());
  EXPECT_EQ(status.last_report().requests(), 42u);
  EXPECT_EQ(status.last_report().errors(), 7u);
  EXPECT_EQ(status.last_report().workers(), 2u);
  EXPECT_EQ(status.last_report().version(), 1u);
  EXPECT_TRUE(status.has_last_report_time());
  EXPECT_LT(status.last_report_age_ms(), 10000u);
  // The REST admin shows the same (protobuf's JSON mapping: uint64 as strings).
  HttpResult rest = Http(server_->http_address(), "GET", "/v1/dataplanes");
  EXPECT_EQ(rest.status, 200);
  EXPECT_NE(rest.body.find("\"lastReport\""), std::string::npos) << rest.body;
  EXPECT_NE(rest.body.find("\"requests\": \"42\""), std::string::npos) << rest.body;
  EXPECT_NE(rest.body.find("\"lastReportAgeMs\""), std::string::npos) << rest.body;
  // Counters move: the next report carries them.
  dp.SetCounters(50, 8);
  EXPECT_TRUE(WaitFor([&] { return DataPlanes()[0].last_report().requests() == 50; }));
  client->Stop();
}

// Reports do not wait for the answer to a snapshot: while the data plane is busy installing one
// (its reading thread held), its reports still go out.
TEST_F(ControlPlaneTest, StatusReportsFlowWhileASnapshotIsBeingInstalled) {
  FakeDataPlane dp;
  ControlClientOptions options;
  options.targets = {server_->grpc_address()};
  options.report_interval = absl::Milliseconds(50);
  auto client = dp.Client(options, "dp-busy-report");
  client->Start();
  ASSERT_TRUE(WaitFor([&] { return dp.serving() == 1; }));
  dp.Hold(true);
  uint64_t held = Apply({MakeApp("second")});
  ASSERT_TRUE(WaitFor([&] { return DataPlanes()[0].reports() > 0; }));
  uint64_t before = DataPlanes()[0].reports();
  EXPECT_TRUE(WaitFor([&] { return DataPlanes()[0].reports() >= before + 3; }))
      << "no report while a snapshot is being installed";
  EXPECT_TRUE(dp.received().empty() || dp.received().back() != held) << "the install was held";
  dp.Hold(false);
  EXPECT_TRUE(WaitFor([&] { return DataPlanes()[0].version() == held; }));
  client->Stop();
}

// Slow disk: changes stuck in their conf-dir write (the writer's fault-injection seam blocks) hold
// no gRPC callback thread and no lock that the attach streams, reads or Validate need.
TEST_F(ControlPlaneTest, ASlowConfigWriteStallsNoAttachStream) {
  absl::Notification write_started, release;
  std::atomic<int> writing{0};
  std::atomic<int> most_writing{0};
  server_.reset();
  StartServer("127.0.0.1:0", [&] {
    int now = ++writing;
    int seen = most_writing.load();
    while (now > seen && !most_writing.compare_exchange_weak(seen, now)) {
    }
    if (!write_started.HasBeenNotified()) write_started.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(60));
    --writing;
  });
  std::vector<std::future<uint64_t>> changes;  // Destroyed (waited for) after the release.
  // Released (so the changes and the server can end) whatever the test's outcome.
  struct Releaser {
    absl::Notification* n;
    ~Releaser() {
      if (!n->HasBeenNotified()) n->Notify();
    }
  } releaser{&release};

  FakeDataPlane attached;
  ControlClientOptions options;
  options.targets = {server_->grpc_address()};
  options.report_interval = absl::Milliseconds(50);
  auto attached_client = attached.Client(options, "dp-attached");
  attached_client->Start();
  ASSERT_TRUE(WaitFor([&] { return attached.serving() == 1; }));

  // More changes at once than gRPC has callback threads: each would hold one if it waited there.
  constexpr int kChanges = 12;
  for (int i = 0; i < kChanges; ++i) {
    changes.push_back(std::async(std::launch::async, [this, i] {
      v1::ApplyAppsRequest req;
      *req.add_apps() = MakeApp(absl::StrCat("slow", i));
      v1::ApplyAppsResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
      grpc::Status s = stub_->ApplyApps(&ctx, req, &resp);
      return s.ok() ? resp.version() : 0;
    }));
  }
  ASSERT_TRUE(write_started.WaitForNotificationWithTimeout(absl::Seconds(10)));

  // A new data plane attaches and gets the current snapshot.
  FakeDataPlane joining;
  auto joining_client = joining.Client(server_->grpc_address(), "dp-joining");
  joining_client->Start();
  EXPECT_TRUE(WaitFor([&] { return joining.serving() == 1; }, absl::Seconds(5)))
      << "no snapshot for a data plane attaching during a slow write";
  // The attached data plane's reports are still taken.
  uint64_t reports = DataPlanes()[0].reports();
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const v1::DataPlaneStatus& dp : DataPlanes()) {
          if (dp.id() == "dp-attached" && dp.reports() > reports) return true;
        }
        return false;
      },
      absl::Seconds(5)));
  // Reads and Validate answer from the published state.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetVersionResponse version;
    ASSERT_TRUE(stub_->GetVersion(&ctx, {}, &version).ok());
    EXPECT_EQ(version.version(), 1u);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ValidateRequest req;
    *req.add_apps() = MakeApp("Not A Name");
    v1::ValidateResponse resp;
    ASSERT_TRUE(stub_->Validate(&ctx, req, &resp).ok());
    EXPECT_FALSE(resp.errors().empty());
  }
  // All of this happened while the changes were stuck, one at a time.
  for (auto& c : changes) {
    EXPECT_EQ(c.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  }
  EXPECT_EQ(most_writing.load(), 1);

  release.Notify();
  std::set<uint64_t> versions;
  for (auto& c : changes) versions.insert(c.get());
  EXPECT_EQ(versions.size(), static_cast<size_t>(kChanges));
  EXPECT_EQ(*versions.begin(), 2u);
  EXPECT_EQ(*versions.rbegin(), static_cast<uint64_t>(kChanges + 1));
  EXPECT_EQ(most_writing.load(), 1) << "changes wrote concurrently";
  EXPECT_TRUE(WaitFor([&] { return joining.serving() == kChanges + 1u; }));
  EXPECT_TRUE(WaitFor([&] { return attached.serving() == kChanges + 1u; }));
  joining_client->Stop();
  attached_client->Stop();
}

}  // namespace
}  // namespace valet
