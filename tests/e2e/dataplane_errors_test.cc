// Every answer the gateway makes itself is JSON with a stable code, and bad input (from clients
// or from backends) never crashes it or passes through.
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

class ErrorsTest : public DataplaneTest {};

TEST_F(ErrorsTest, UnknownAppIs404) {
  auto backend = StartBackend("b");
  WriteApp("shop", AppJson("shop", {backend->port()}));
  StartDataplane();
  HttpClient client = Client();
  auto res = client.Get("/nope/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 404, "unknown_app");
  EXPECT_NE(res->body.find("\"app\":\"nope\""), std::string::npos);
  auto root = client.Get("/");
  ASSERT_TRUE(root.ok());
  EXPECT_GATEWAY_ERROR(*root, 404, "unknown_app");
  // A 404 keeps the connection.
  EXPECT_TRUE(root->reused_connection);
}

TEST_F(ErrorsTest, RefusedResetAndGarbageAre502) {
  int closed_port = *PickClosedPort();
  auto reset = StartBackend("reset", [](const RecordedRequest&) { return BackendReply::Reset(); });
  auto garbage = StartBackend(
      "garbage", [](const RecordedRequest&) { return BackendReply::Raw("HTTP/1.1 ok\r\n\r\n"); });
  auto close = StartBackend("close", [](const RecordedRequest&) { return BackendReply::Close(); });
  WriteApp("refused", AppJson("refused", {closed_port}));
  WriteApp("reset", AppJson("reset", {reset->port()}));
  WriteApp("garbage", AppJson("garbage", {garbage->port()}));
  WriteApp("close", AppJson("close", {close->port()}));
  StartDataplane();
  HttpClient client = Client();

  auto refused = client.Get("/refused/x");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_GATEWAY_ERROR(*refused, 502, "upstream_unreachable");

  auto r = client.Get("/reset/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GATEWAY_ERROR(*r, 502, "upstream_reset");

  auto g = client.Get("/garbage/x");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_GATEWAY_ERROR(*g, 502, "bad_upstream_response");

  auto c = client.Get("/close/x");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GATEWAY_ERROR(*c, 502, "upstream_reset");

  // Counted when the gateway is done with each request, perhaps just after the answer is read.
  EXPECT_TRUE(WaitFor(
      [&] { return Metric(R"(valet_upstream_errors_total{app="refused",kind="connect"})") >= 1; },
      absl::Seconds(10)));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Metric(R"(valet_upstream_errors_total{app="garbage",kind="bad_response"})") >= 1;
      },
      absl::Seconds(10)));
}

TEST_F(ErrorsTest, SlowBackendIs504) {
  auto slow = StartBackend("slow", [](const RecordedRequest&) {
    return BackendReply::Respond(200, "late").After(std::chrono::milliseconds(3000));
  });
  WriteApp("slow", AppJson("slow", {slow->port()}, R"("requestTimeoutMs": 200,)"));
  StartDataplane();
  HttpClient client = Client();
  auto res = client.Get("/slow/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 504, "upstream_timeout");
}

TEST_F(ErrorsTest, BackendConnectionNotReusedAfterBrokenReply) {
  // The first answer claims 10 bytes and sends 3, and the backend keeps the connection open and
  // ready for another request: only the gateway's own rule (a connection whose answer broke is
  // never reused) keeps the next request off it.
  std::atomic<int> calls{0};
  auto backend = StartBackend("b", [&calls](const RecordedRequest&) {
    if (calls++ == 0) {
      return BackendReply::RawKeepOpen("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    }
    return BackendReply::Respond(200, "fine");
  });
  WriteApp("b", AppJson("b", {backend->port()}));
  // One worker: one connection pool, which the second request would be served from. A short
  // body deadline, so the gateway gives up on the missing 7 bytes quickly.
  StartDataplane({"--workers", "1", "--upstream-io-timeout-ms", "500"});
  HttpClient client = Client();
  auto broken = client.Get("/b/1");
  // The header went out, so the client sees a cut body (an error or a short body).
  if (broken.ok()) {
    EXPECT_NE(broken->body, "abc");
  }
  // The gateway closes the broken connection itself: the backend would have kept it.
  EXPECT_TRUE(WaitFor([&] { return backend->open_connections() == 0; }, absl::Seconds(10)))
      << backend->open_connections() << " backend connection(s) still open";
  HttpClient second = Client();
  auto ok = second.Get("/b/2");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->body, "fine");
  auto requests = backend->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[0].connection_id, requests[1].connection_id);
  EXPECT_EQ(backend->accepted_connections(), 2u);
}

class MalformedTest : public DataplaneTest {
 protected:
  void SetUp() override {
    backend_ = StartBackend("b");
    WriteApp("shop", AppJson("shop", {backend_->port()}));
    StartDataplane({"--max-header-bytes", "4096", "--max-body-bytes", "100000"});
    auto hp = SplitHostPort(listen_);
    host_ = hp->first;
    port_ = hp->second;
  }

  // Sends raw bytes; returns what came back.
  std::string Raw(const std::string& bytes) {
    auto out = SendRaw(host_, port_, bytes, absl::Seconds(5));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }

  std::unique_ptr<TestBackend> backend_;
  std::string host_;
  int port_ = 0;
};

TEST_F(MalformedTest, GarbageIs400) {
  std::string out = Raw("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  EXPECT_NE(out.find("\"code\":\"bad_request\""), std::string::npos) << out;
  out = Raw("GET /shop/x HTTP/1.1\r\nHost: x\r\nBad\x01Name: v\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
  out = Raw("GET /shop/x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << "no Host: " << out;
  out = Raw("GET /shop/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << "two Hosts: " << out;
  out = Raw("GET /shop/..;/admin HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << "hidden dot-segment: " << out;
  EXPECT_EQ(backend_->request_count(), 0u);
}

TEST_F(MalformedTest, AmbiguousFramingRefusedNeverForwarded) {
  const char* smuggles[] = {
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
      "0\r\n\r\n",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
      "POST /shop/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  };
  for (const char* s : smuggles) {
    std::string out = Raw(s);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << s << "\n---\n" << out;
  }
  EXPECT_EQ(backend_->request_count(), 0u);
}

TEST_F(MalformedTest, OversizedHeaderIs431AndBodyIs413) {
  std::string big_header =
      "GET /shop/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  std::string out = Raw(big_header);
  EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 200);

  HttpClient client = Client();
  auto res = client.Send("POST", "/shop/x", {}, std::string(200000, 'b'));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 413, "body_too_large");

  // A chunked body that grows past the limit.
  HttpClient chunked = Client();
  auto grown =
      chunked.Send("POST", "/shop/x", {}, "",
                   std::vector<std::string>{std::string(60000, 'c'), std::string(60000, 'd')});
  // The gateway answers before the client has sent everything and then drains what follows
  // (lingering close), so the client reads the 413 rather than a reset.
  ASSERT_TRUE(grown.ok()) << grown.status();
  EXPECT_GATEWAY_ERROR(*grown, 413, "body_too_large");
  EXPECT_EQ(backend_->request_count(), 0u);
}

TEST_F(ErrorsTest, StalledClientIsCutOffAtItsDeadline) {
  auto backend = StartBackend("b");
  WriteApp("shop", AppJson("shop", {backend->port()}));
  StartDataplane({"--client-timeout-ms", "500"});
  auto [host, port] = *SplitHostPort(listen_);
  // Half a header, then silence: the gateway closes the connection at the deadline.
  bool peer_closed = false;
  auto stalled = SendRaw(host, port, "GET /shop/x HTTP/1.1\r\nHo", absl::Seconds(10), &peer_closed);
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  EXPECT_TRUE(peer_closed);
  // Meanwhile everyone else is served.
  HttpClient client = Client();
  auto res = client.Get("/shop/y");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(dataplane_->Running());
}

}  // namespace
}  // namespace valet::testing
