// Whole-app mock mode switched through the control plane (valetctl mock on|off, the REST admin)
// while traffic runs through an attached data plane: no request fails, the conf file records the
// mode, and `mock list` shows the app's mocks; recordings started by valetctl and by the REST
// admin store real answers as mocks.
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"

namespace valet::testing {
namespace {

constexpr char kMocks[] = R"("mocks": [
    {"method": "GET", "path": "/items/{id}", "json": {"mocked": true}},
    {"method": "POST", "path": "/items", "status": 201, "text": "made", "delayMs": 10}
  ],)";

std::string ReadFileForTest(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class MockModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    dir_.WriteFile("conf/shop.json", AppJson("shop", {backend_->port()}, kMocks));
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), 0);
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_ = cp->grpc;
    http_ = cp->http;

    auto bin = DataplaneBinary();
    ASSERT_TRUE(bin.ok()) << bin.status();
    auto p = Process::Start(
        *bin, {"--control-plane", grpc_, "--id", "dp", "--listen", "127.0.0.1:0", "--admin-listen",
               "127.0.0.1:0", "--port-file", dir_.Join("dp.ports"), "--workers", "2"});
    ASSERT_TRUE(p.ok()) << p.status();
    dataplane_ = std::move(*p);
    auto ports = WaitForPortFile(dir_.Join("dp.ports"), absl::Seconds(20));
    ASSERT_TRUE(ports.ok()) << ports.status() << dataplane_->Log();
    listen_ = (*ports)["listen"];
    ASSERT_TRUE(WaitFor(
        [&] {
          HttpClient client(listen_, absl::Seconds(2));
          auto res = client.Get("/shop/items/1");
          return res.ok() && res->status == 200;
        },
        absl::Seconds(20)))
        << dataplane_->Log();
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

  // One fresh GET of /shop/items/1: "mock", "real", or what went wrong.
  std::string Probe() {
    HttpClient client(listen_, absl::Seconds(5));
    auto res = client.Get("/shop/items/1");
    if (!res.ok()) return std::string(res.status().message());
    if (res->status != 200) return absl::StrCat("status ", res->status, ": ", res->body);
    return res->Header("X-Valet-Mock") == "true" ? "mock" : "real";
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::unique_ptr<Process> dataplane_;
  std::string grpc_;
  std::string http_;
  std::string listen_;
};

TEST_F(MockModeTest, ValetctlSwitchesMockModeWhileTrafficRunsWithoutAFailedRequest) {
  std::atomic<bool> stop{false};
  std::atomic<int> mocked{0}, real{0}, failed{0};
  std::mutex mu;
  std::string first_failure;
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&] {
      HttpClient client(listen_, absl::Seconds(10));
      for (int i = 0; i < 200000 && !stop; ++i) {
        auto res = client.Get("/shop/items/1");
        if (res.ok() && res->status == 200) {
          (res->Header("X-Valet-Mock") == "true" ? mocked : real)++;
          continue;
        }
        failed++;
        std::lock_guard<std::mutex> lock(mu);
        if (first_failure.empty()) {
          first_failure = res.ok() ? absl::StrCat(res->status, " ", res->body)
                                   : std::string(res.status().message());
        }
      }
    });
  }
  auto stop_clients = [&] {
    stop = true;
    for (std::thread& t : clients) t.join();
    clients.clear();
  };
  ASSERT_TRUE(WaitFor([&] { return real > 0; }, absl::Seconds(10)));

  CtlResult on = Valetctl({"mock", "on", "shop", "--wait"});
  EXPECT_EQ(on.code, 0) << on.output;
  EXPECT_NE(on.output.find("mock mode on for shop: version "), std::string::npos) << on.output;
  // --wait returned: the data plane serves the new version, every new request is mocked.
  EXPECT_EQ(Probe(), "mock");
  ASSERT_TRUE(WaitFor([&] { return mocked > 0; }, absl::Seconds(10)));
  EXPECT_EQ(backend_->request_count() > 0, true);

  CtlResult again = Valetctl({"mock", "on", "shop"});
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("shop already has mock mode on: nothing changed"), std::string::npos)
      << again.output;

  // The conf file holds the mode: a control plane restart keeps it.
  auto file = ReadFileForTest(dir_.Join("conf/shop.json"));
  EXPECT_NE(file.find(R"("mockMode": true)"), std::string::npos) << file;

  int real_before_off = real;
  CtlResult off = Valetctl({"mock", "off", "shop", "--wait"});
  EXPECT_EQ(off.code, 0) << off.output;
  EXPECT_EQ(Probe(), "real");
  ASSERT_TRUE(WaitFor([&] { return real > real_before_off; }, absl::Seconds(10)));
  stop_clients();

  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_EQ(ReadFileForTest(dir_.Join("conf/shop.json")).find("mockMode"), std::string::npos);
}

TEST_F(MockModeTest, MockListShowsTheAppsMocks) {
  CtlResult table = Valetctl({"mock", "list", "shop"});
  ASSERT_EQ(table.code, 0) << table.output;
  EXPECT_NE(table.output.find("app shop: mock mode off, mock header not allowed, 2 mocks"),
            std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("GET      /items/{id}   200      json, 15 B"), std::string::npos)
      << table.output;
  EXPECT_NE(table.output.find("10ms"), std::string::npos) << table.output;

  CtlResult json = Valetctl({"-o", "json", "mock", "list", "shop"});
  ASSERT_EQ(json.code, 0) << json.output;
  EXPECT_NE(json.output.find(R"("path": "/items/{id}")"), std::string::npos) << json.output;
  EXPECT_NE(json.output.find(R"("mockMode": false)"), std::string::npos) << json.output;

  CtlResult unknown = Valetctl({"mock", "list", "nope"});
  EXPECT_EQ(unknown.code, 1) << unknown.output;
  CtlResult unknown_on = Valetctl({"mock", "on", "nope"});
  EXPECT_EQ(unknown_on.code, 1) << unknown_on.output;
  EXPECT_NE(unknown_on.output.find("no app named \"nope\""), std::string::npos)
      << unknown_on.output;
}

TEST_F(MockModeTest, RestAdminSwitchesMockMode) {
  HttpClient rest(http_, absl::Seconds(10));
  auto on = rest.Send("POST", "/v1/apps/shop/mock", {{"Content-Type", "application/json"}},
                      R"({"on": true})");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->status, 200) << on->body;
  EXPECT_NE(on->body.find(R"("changed": true)"), std::string::npos) << on->body;
  EXPECT_TRUE(WaitFor([&] { return Probe() == "mock"; }, absl::Seconds(20)));

  auto bad = rest.Send("POST", "/v1/apps/shop/mock", {}, R"({"on": "yes"})");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("expected true or false"), std::string::npos) << bad->body;
  auto extra = rest.Send("POST", "/v1/apps/shop/mock", {}, R"({"on": true, "of": 1})");
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_EQ(extra->status, 400) << extra->body;
  auto missing = rest.Send("POST", "/v1/apps/nope/mock", {}, R"({"on": true})");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404) << missing->body;
  auto get = rest.Get("/v1/apps/shop/mock");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->status, 405) << get->body;
  auto stale = rest.Send("POST", "/v1/apps/shop/mock?expected_version=1", {}, R"({"on": false})");
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->status, 409) << stale->body;

  auto off = rest.Send("POST", "/v1/apps/shop/mock", {}, R"({"on": false})");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->status, 200) << off->body;
  EXPECT_TRUE(WaitFor([&] { return Probe() == "real"; }, absl::Seconds(20)));
}

// Record and replay: `mock record` captures the app's next answers on the attached data plane and
// stores them as mocks; with the backend stopped, mock mode answers them. No credential or cookie
// of the requests or answers reaches the mocks.
TEST_F(MockModeTest, RecordThenReplayWithTheBackendStoppedHoldsNoCredentials) {
  backend_->SetHandler([](const RecordedRequest& r) {
    HeaderList headers = {{"Content-Type", "application/json"},
                          {"Set-Cookie", "session=s3cr3t-cookie; HttpOnly"},
                          {"X-Internal-Token", "int3rnal-t0ken"},
                          {"Cache-Control", "max-age=60"}};
    if (r.method == "POST")
      return BackendReply::Respond(
          201, "order taken", {{"Content-Type", "text/plain"}, {"Set-Cookie", "cart=s3cr3t-cart"}});
    return BackendReply::Respond(200, absl::StrCat(R"({"item": ")", r.target, R"("})"), headers);
  });
  std::string file = dir_.WriteFile("new/rec.json", AppJson("rec", {backend_->port()}));
  CtlResult applied = Valetctl({"apply", "-f", file, "--wait"});
  ASSERT_EQ(applied.code, 0) << applied.output;

  auto bin = ValetctlBinary();
  ASSERT_TRUE(bin.ok()) << bin.status();
  auto record = Process::Start(*bin, {"--server", grpc_, "mock", "record", "rec", "--count", "3",
                                      "--record-timeout", "60s"});
  ASSERT_TRUE(record.ok()) << record.status();
  // Traffic until the recording has its answers (the data plane starts recording when the
  // control plane's request reaches it); three different requests in turn, with credentials.
  HttpClient client(listen_, absl::Seconds(10));
  const HeaderList credentials = {{"Authorization", "Bearer s3cr3t-bearer"},
                                  {"Cookie", "session=s3cr3t-client-cookie"},
                                  {"X-Valet-Auth", "s3cr3t-key"}};
  for (int i = 0; i < 20000 && (*record)->Running(); ++i) {
    absl::StatusOr<HttpResponse> res =
        i % 3 == 0   ? client.Get("/rec/items/1", credentials)
        : i % 3 == 1 ? client.Get("/rec/items/2?x=1", credentials)
                     : client.Send("POST", "/rec/orders", credentials, "{\"n\": 1}");
    ASSERT_TRUE(res.ok()) << res.status();
  }
  auto code = (*record)->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*record)->Log();
  EXPECT_NE((*record)->Log().find("recorded 3 of 3 answers of rec on 1 data plane"),
            std::string::npos)
      << (*record)->Log();

  // Stored in the conf file, without any credential or cookie.
  std::string conf = ReadFileForTest(dir_.Join("conf/rec.json"));
  EXPECT_NE(conf.find(R"("path": "/items/1")"), std::string::npos) << conf;
  EXPECT_NE(conf.find(R"("path": "/items/2")"), std::string::npos) << conf;
  EXPECT_NE(conf.find(R"("path": "/orders")"), std::string::npos) << conf;
  EXPECT_NE(conf.find("Cache-Control"), std::string::npos) << conf;
  for (const char* secret : {"s3cr3t", "int3rnal", "Set-Cookie", "Cookie", "Authorization",
                             "X-Internal-Token", "X-Valet-Auth"}) {
    EXPECT_EQ(conf.find(secret), std::string::npos) << secret << " in\n" << conf;
  }
  CtlResult listed = Valetctl({"-o", "json", "mock", "list", "rec"});
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_EQ(listed.output.find("s3cr3t"), std::string::npos) << listed.output;

  // Replay: the backend is gone, mock mode answers what was recorded.
  backend_->Stop();
  CtlResult on = Valetctl({"mock", "on", "rec", "--wait"});
  ASSERT_EQ(on.code, 0) << on.output;
  HttpClient replay(listen_, absl::Seconds(10));
  auto item = replay.Get("/rec/items/1");
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->status, 200);
  EXPECT_EQ(item->body, R"({"item":"/items/1"})");
  EXPECT_EQ(item->Header("Cache-Control"), "max-age=60");
  EXPECT_EQ(item->Header("X-Valet-Mock"), "true");
  EXPECT_EQ(item->Header("Set-Cookie"), "");
  auto order = replay.Send("POST", "/rec/orders", {}, "{}");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(order->status, 201);
  EXPECT_EQ(order->body, "order taken");
  auto unrecorded = replay.Get("/rec/items/3");
  ASSERT_TRUE(unrecorded.ok()) << unrecorded.status();
  EXPECT_EQ(unrecorded->status, 404);
}

TEST_F(MockModeTest, RecordWithoutTrafficStoresNothingAfterItsTimeout) {
  CtlResult record =
      Valetctl({"mock", "record", "shop", "--count", "2", "--record-timeout", "300ms"});
  EXPECT_EQ(record.code, 1) << record.output;
  EXPECT_NE(record.output.find("recorded 0 of 2 answers of shop on 1 data plane before the "
                               "recording timed out: nothing stored"),
            std::string::npos)
      << record.output;
  CtlResult bad = Valetctl({"mock", "record", "shop", "--count", "0"});
  EXPECT_EQ(bad.code, 2) << bad.output;
  CtlResult unknown = Valetctl({"mock", "record", "nope", "--count", "1"});
  EXPECT_EQ(unknown.code, 1) << unknown.output;
}

TEST_F(MockModeTest, RestAdminRecordsAnswersAndRefusesBadBodies) {
  HttpClient rest(http_, absl::Seconds(10));
  for (const char* bad : {R"({})", R"({"count": "2"})", R"({"count": -1})", R"({"count": 2.5})",
                          R"({"count": 2, "timeout": 5})", R"([2])", "not json"}) {
    auto res = rest.Send("POST", "/v1/apps/shop/record", {}, bad);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 400) << bad << ": " << res->body;
    EXPECT_NE(res->body.find("invalid_argument"), std::string::npos) << res->body;
  }
  auto zero = rest.Send("POST", "/v1/apps/shop/record", {}, R"({"count": 0})");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->status, 400) << zero->body;
  auto unknown = rest.Send("POST", "/v1/apps/nope/record", {}, R"({"count": 1})");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto get = rest.Get("/v1/apps/shop/record");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 405) << get->body;
  EXPECT_EQ(get->Header("Allow"), "POST");

  // A recording of two answers: the POST is answered once traffic brought them.
  absl::StatusOr<HttpResponse> recorded;
  std::atomic<bool> answered{false};
  std::thread recording([&] {
    recorded = HttpClient(http_, absl::Seconds(60))
                   .Send("POST", "/v1/apps/shop/record", {{"Content-Type", "application/json"}},
                         R"({"count": 2, "timeoutMs": 60000})");
    answered = true;
  });
  // Traffic until the answer came (the data plane records once the control plane's request
  // reached it).
  HttpClient client(listen_, absl::Seconds(10));
  bool all_ok = true;
  for (int i = 0; i < 20000 && !answered; ++i) {
    auto res = client.Get(absl::StrCat("/shop/rest/", i % 2));
    all_ok &= res.ok() && res->status == 200;
  }
  recording.join();
  EXPECT_TRUE(all_ok);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(recorded->status, 200) << recorded->body;
  EXPECT_NE(recorded->body.find(R"("recorded": 2)"), std::string::npos) << recorded->body;
  EXPECT_NE(recorded->body.find(R"("complete": true)"), std::string::npos) << recorded->body;
  CtlResult listed = Valetctl({"-o", "json", "mock", "list", "shop"});
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_NE(listed.output.find("/rest/0"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("/rest/1"), std::string::npos) << listed.output;
}

}  // namespace
}  // namespace valet::testing
