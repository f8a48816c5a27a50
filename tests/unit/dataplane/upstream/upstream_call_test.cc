// The upstream call in buffer mode against scripted real backends on 127.0.0.1: the answer read
// whole, the request as the backend sees it, the size limit, retry on another endpoint, timeouts,
// and connection reuse. (Stream mode is what every proxied request uses: the data plane's e2e
// tests cover it.)
#include "dataplane/upstream/upstream_call.h"

#include <gtest/gtest.h>

#include <optional>

#include "dataplane/mocks/answer_recorder.h"
#include "dataplane/worker.h"
#include "tests/support/test_backend.h"

namespace valet {
namespace {

namespace http = boost::beast::http;
using testing::BackendReply;
using testing::RecordedRequest;
using testing::TestBackend;

class UpstreamCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.workers = 1;
    worker_ = std::make_unique<Worker>(0, options_, metrics_, recorder_);
  }

  // Compiles an app "a" over `ports` with `timeout_ms` as its request timeout.
  const AppRoute& App(std::vector<int> ports, int timeout_ms = 5'000, std::string path = "") {
    v1::ConfigSnapshot config;
    config.set_version(1);
    v1::AppConfig* app = config.add_apps();
    app->set_name("a");
    app->set_request_timeout_ms(timeout_ms);
    for (int port : ports) {
      v1::Endpoint* ep = app->add_endpoints();
      ep->set_host("127.0.0.1");
      ep->set_port(port);
      ep->set_path(path);
    }
    auto snapshot = Snapshot::Compile(config, metrics_, limits_);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    snapshot_ = *snapshot;
    return *snapshot_->Find("a");
  }

  // Runs one buffered call to completion (bounded: 10 s).
  std::optional<UpstreamCall::Result> Call(const AppRoute& app, http::verb method,
                                           std::string target_rest, std::string body = "",
                                           size_t max_body = 1 << 20) {
    http::request<http::string_body> req{method, "/", 11};
    req.set("X-Test", "1");
    req.body() = std::move(body);
    RequestTarget target{"a", std::move(target_rest), "q=1"};
    std::optional<UpstreamCall::Result> result;
    auto call = UpstreamCall::Buffer(*worker_, app, std::move(req), target, max_body,
                                     [&](UpstreamCall::Result r) { result = std::move(r); });
    call->Start();
    call.reset();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!result && std::chrono::steady_clock::now() < deadline) {
      worker_->io().restart();
      worker_->io().run_for(std::chrono::milliseconds(10));
    }
    return result;
  }

  std::unique_ptr<TestBackend> Backend(testing::Handler handler = nullptr) {
    TestBackend::Options options;
    options.handler = std::move(handler);
    auto backend = TestBackend::Start(options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return std::move(*backend);
  }

  ProxyOptions options_;
  Metrics metrics_;
  AnswerRecorder recorder_;
  RateLimits limits_;
  std::unique_ptr<Worker> worker_;
  std::shared_ptr<const Snapshot> snapshot_;
};

TEST_F(UpstreamCallTest, ReadsTheWholeAnswer) {
  auto backend = Backend([](const RecordedRequest&) {
    return BackendReply::Chunked(201, {"hel", "lo"}, {{"X-Answer", "yes"}});
  });
  const AppRoute& app = App({backend->port()}, 5'000, "/base");
  auto result = Call(app, http::verb::post, "/items", "payload");
  ASSERT_TRUE(result);
  ASSERT_FALSE(result->error) << result->error->message;
  EXPECT_EQ(result->response.result_int(), 201);
  EXPECT_EQ(result->response.body(), "hello");
  EXPECT_EQ(result->response["X-Answer"], "yes");

  std::vector<RecordedRequest> requests = backend->requests();
  ASSERT_EQ(requests.size(), 1u);
  const RecordedRequest& seen = requests[0];
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/base/items?q=1");
  EXPECT_EQ(seen.Header("Host"), backend->host_port());
  EXPECT_EQ(seen.Header("Content-Length"), "7");
  EXPECT_EQ(seen.Header("X-Test"), "1");
  EXPECT_EQ(seen.body, "payload");
}

TEST_F(UpstreamCallTest, ReusesTheConnectionAfterACompleteAnswer) {
  auto backend = Backend();
  const AppRoute& app = App({backend->port()});
  ASSERT_TRUE(Call(app, http::verb::get, "/1"));
  ASSERT_TRUE(Call(app, http::verb::get, "/2"));
  ASSERT_EQ(backend->requests().size(), 2u);
  EXPECT_EQ(backend->requests()[0].connection_id, backend->requests()[1].connection_id);
}

TEST_F(UpstreamCallTest, AnAnswerOverTheLimitIsAnErrorAndItsConnectionIsNotReused) {
  auto backend = Backend(
      [](const RecordedRequest&) { return BackendReply::Respond(200, std::string(2000, 'x')); });
  const AppRoute& app = App({backend->port()});
  auto result = Call(app, http::verb::get, "/big", "", /*max_body=*/1000);
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, "bad_upstream_response");
  EXPECT_NE(result->error->message.find("larger than 1000 bytes"), std::string::npos);
  ASSERT_TRUE(Call(app, http::verb::get, "/next"));
  ASSERT_EQ(backend->requests().size(), 2u);
  EXPECT_NE(backend->requests()[0].connection_id, backend->requests()[1].connection_id);
}

TEST_F(UpstreamCallTest, AChunkedAnswerOverTheLimitIsAnError) {
  auto backend = Backend([](const RecordedRequest&) {
    return BackendReply::Chunked(200, {std::string(600, 'x'), std::string(600, 'y')});
  });
  auto result = Call(App({backend->port()}), http::verb::get, "/big", "", /*max_body=*/1000);
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, "bad_upstream_response");
}

TEST_F(UpstreamCallTest, ARefusedConnectIsRetriedOnAnotherEndpoint) {
  auto backend = Backend();
  auto dead = testing::PickClosedPort();
  ASSERT_TRUE(dead.ok());
  const AppRoute& app = App({*dead, backend->port()});
  // Whichever endpoint the balancer picks first, every call reaches the live one.
  for (int i = 0; i < 4; ++i) {
    auto result = Call(app, http::verb::get, "/x");
    ASSERT_TRUE(result);
    EXPECT_FALSE(result->error) << result->error->message;
  }
  EXPECT_EQ(backend->request_count(), 4u);
}

TEST_F(UpstreamCallTest, NoEndpointAnsweringIsUnreachable) {
  auto dead = testing::PickClosedPort();
  ASSERT_TRUE(dead.ok());
  auto result = Call(App({*dead}), http::verb::get, "/x");
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, "upstream_unreachable");
  EXPECT_EQ(snapshot_->Find("a")->stats->upstream_errors(UpstreamError::kConnect), 1u);
}

TEST_F(UpstreamCallTest, ASilentBackendTimesOut) {
  auto backend =
      Backend([](const RecordedRequest&) { return BackendReply::Json(200, "{}").Held(); });
  auto result = Call(App({backend->port()}, /*timeout_ms=*/100), http::verb::get, "/slow");
  backend->ReleaseHeld();
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, "upstream_timeout");
  EXPECT_EQ(result->error->status, 504);
}

TEST_F(UpstreamCallTest, ASwitchOfProtocolsIsABadAnswerWhenBuffered) {
  auto backend = Backend([](const RecordedRequest&) {
    return BackendReply::Raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n");
  });
  auto result = Call(App({backend->port()}), http::verb::get, "/x");
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->code, "bad_upstream_response");
}

TEST_F(UpstreamCallTest, InterimAnswersAreSkipped) {
  auto backend = Backend([](const RecordedRequest&) {
    return BackendReply::Raw(
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  auto result = Call(App({backend->port()}), http::verb::get, "/x");
  ASSERT_TRUE(result);
  ASSERT_FALSE(result->error) << result->error->message;
  EXPECT_EQ(result->response.result_int(), 200);
  EXPECT_EQ(result->response.body(), "ok");
}

}  // namespace
}  // namespace valet
