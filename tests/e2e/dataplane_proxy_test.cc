// The data plane forwards requests faithfully: methods, paths, queries, bodies, headers,
// keep-alive.
#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/raw_connection.h"

namespace valet::testing {
namespace {

using Json = nlohmann::json;

class ProxyTest : public DataplaneTest {
 protected:
  void SetUp() override {
    backend_ = StartBackend("one");
    ASSERT_NE(backend_, nullptr);
    WriteApp("shop", AppJson("shop", {backend_->port()}, "", "/api"));
    StartDataplane();
  }

  Json EchoOf(const HttpResponse& res) {
    Json j = Json::parse(res.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << res.body;
    return j;
  }

  std::string HeaderIn(const Json& echo, const std::string& name) {
    for (const auto& f : echo["headers"]) {
      std::string n = f[0];
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return f[1];
    }
    return "<absent>";
  }

  std::unique_ptr<TestBackend> backend_;
};

TEST_F(ProxyTest, EveryMethodPassesThrough) {
  HttpClient client = Client();
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"}) {
    auto res = client.Send(method, "/shop/items/1", {}, "payload");
    ASSERT_TRUE(res.ok()) << method << ": " << res.status();
    EXPECT_EQ(res->status, 200) << method;
    EXPECT_EQ(EchoOf(*res)["method"], method);
  }
  auto head = client.Send("HEAD", "/shop/items/1");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  ASSERT_TRUE(backend_->WaitForRequests(8, absl::Seconds(5)));
  EXPECT_EQ(backend_->requests().back().method, "HEAD");
}

TEST_F(ProxyTest, PathAndQueryMapUnderTheEndpointPrefix) {
  HttpClient client = Client();
  struct {
    const char* in;
    const char* out;
  } cases[] = {{"/shop/items?id=7&x=%20", "/api/items?id=7&x=%20"},
               {"/shop", "/api"},
               {"/shop/", "/api/"},
               {"/shop/a/./b/../c", "/api/a/c"},
               {"/shop//a", "/api/a"}};
  for (const auto& c : cases) {
    auto res = client.Get(c.in);
    ASSERT_TRUE(res.ok()) << c.in << ": " << res.status();
    EXPECT_EQ(EchoOf(*res)["target"], c.out) << c.in;
  }
  // Dot-segments cannot climb out of an app: this resolves to the unknown app "etc".
  auto escape = client.Get("/shop/../../etc/passwd");
  ASSERT_TRUE(escape.ok());
  EXPECT_GATEWAY_ERROR(*escape, 404, "unknown_app");
  auto encoded = client.Get("/shop/%2e%2e/etc/passwd");
  ASSERT_TRUE(encoded.ok());
  EXPECT_GATEWAY_ERROR(*encoded, 404, "unknown_app");
}

std::string BinaryBlob(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    s[i] = static_cast<char>(x & 0xff);
  }
  return s;
}

TEST_F(ProxyTest, FiveMegabyteBinaryBodyIntactBothWays) {
  const std::string blob = BinaryBlob(5 * 1024 * 1024);
  HttpClient client = Client(absl::Seconds(30));
  // Up: the backend reports the length and hash of what it received.
  auto up =
      client.Send("POST", "/shop/upload", {{"Content-Type", "application/octet-stream"}}, blob);
  ASSERT_TRUE(up.ok()) << up.status();
  Json echo = EchoOf(*up);
  EXPECT_EQ(echo["body_length"], blob.size());
  EXPECT_EQ(echo["body_fnv1a64"], Fnv1a64Hex(blob));

  // Down: the backend answers with the blob.
  backend_->SetHandler([&blob](const RecordedRequest&) {
    return BackendReply::Respond(200, blob, {{"Content-Type", "application/octet-stream"}});
  });
  auto down = client.Get("/shop/download");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->body.size(), blob.size());
  EXPECT_TRUE(down->body == blob);
}

TEST_F(ProxyTest, ChunkedBodiesBothWays) {
  HttpClient client = Client();
  std::vector<std::string> pieces = {"first-", std::string(70000, 'x'), "-last"};
  std::string whole = absl::StrJoin(pieces, "");
  auto up = client.Send("POST", "/shop/stream", {}, "", pieces);
  ASSERT_TRUE(up.ok()) << up.status();
  ASSERT_TRUE(backend_->WaitForRequests(1, absl::Seconds(5)));
  RecordedRequest seen = backend_->requests().back();
  EXPECT_TRUE(seen.chunked);
  EXPECT_EQ(seen.body, whole);

  backend_->SetHandler(
      [&pieces](const RecordedRequest&) { return BackendReply::Chunked(200, pieces); });
  auto down = client.Get("/shop/stream");
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_TRUE(down->chunked);
  EXPECT_EQ(down->body, whole);
}

TEST_F(ProxyTest, HopByHopFieldsStrippedAndForwardedFieldsSet) {
  HttpClient client = Client();
  auto res = client.Get("/shop/h", {{"Connection", "keep-alive, X-Private"},
                                    {"X-Private", "secret"},
                                    {"Keep-Alive", "timeout=5"},
                                    {"TE", "trailers"},
                                    {"Upgrade", "h2c"},
                                    {"Proxy-Connection", "keep-alive"},
                                    {"X-Forwarded-For", "203.0.113.9"},
                                    {"X-Custom", "kept"}});
  ASSERT_TRUE(res.ok()) << res.status();
  Json echo = EchoOf(*res);
  for (const char* gone :
       {"Connection", "X-Private", "Keep-Alive", "TE", "Upgrade", "Proxy-Connection"}) {
    EXPECT_EQ(HeaderIn(echo, gone), "<absent>") << gone;
  }
  EXPECT_EQ(HeaderIn(echo, "X-Custom"), "kept");
  EXPECT_EQ(HeaderIn(echo, "X-Forwarded-For"), "203.0.113.9, 127.0.0.1");
  EXPECT_EQ(HeaderIn(echo, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(HeaderIn(echo, "X-Forwarded-Host"), listen_);
  EXPECT_EQ(HeaderIn(echo, "Host"), backend_->host_port());

  // A client cannot make the gateway drop its own fields by naming them in Connection.
  auto named = client.Get("/shop/h", {{"Connection", "X-Forwarded-For, X-Forwarded-Host"},
                                      {"X-Forwarded-For", "203.0.113.9"}});
  ASSERT_TRUE(named.ok()) << named.status();
  Json named_echo = EchoOf(*named);
  EXPECT_EQ(HeaderIn(named_echo, "X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(HeaderIn(named_echo, "X-Forwarded-Host"), listen_);

  // And on the way back.
  backend_->SetHandler([](const RecordedRequest&) {
    return BackendReply::Respond(
        200, "ok",
        {{"Connection", "X-Back"}, {"X-Back", "1"}, {"X-Kept", "2"}, {"Keep-Alive", "timeout=9"}});
  });
  auto back = client.Get("/shop/h");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->HeaderCount("X-Back"), 0u);
  EXPECT_EQ(back->HeaderCount("Keep-Alive"), 0u);
  EXPECT_EQ(back->Header("X-Kept"), "2");
}

TEST_F(ProxyTest, HeadErrorsCarryNoBodyAndKeepTheConnectionInStep) {
  HttpClient client = Client();
  auto head = client.Send("HEAD", "/nope/x");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->status, 404);
  EXPECT_TRUE(head->body.empty());
  // Had a body been sent, this answer would be read from it.
  auto get = client.Get("/nope/x");
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_GATEWAY_ERROR(*get, 404, "unknown_app");
  EXPECT_TRUE(get->reused_connection);
  // HEAD announces the length of the body a GET gets (RFC 9110 9.3.2), which is not empty.
  ASSERT_EQ(head->HeaderCount("Content-Length"), 1u);
  ASSERT_FALSE(get->body.empty());
  EXPECT_EQ(head->Header("Content-Length"), std::to_string(get->body.size()));
  auto next = client.Get("/shop/after");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->status, 200);
  EXPECT_TRUE(next->reused_connection);
}

TEST_F(ProxyTest, KeepAliveReusesConnectionsOnBothSides) {
  HttpClient client = Client();
  for (int i = 0; i < 20; ++i) {
    auto res = client.Get("/shop/k");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 200);
    if (i > 0) {
      EXPECT_TRUE(res->reused_connection) << i;
    }
  }
  EXPECT_EQ(client.connections_opened(), 1);
  // Sequential requests reuse pooled backend connections: at most one per worker.
  EXPECT_LE(backend_->accepted_connections(), 2u);
  EXPECT_EQ(backend_->request_count(), 20u);
}

TEST_F(ProxyTest, PipelinedRequestsAnsweredInOrder) {
  auto [host, port] = *SplitHostPort(listen_);
  std::string two =
      "GET /shop/p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /shop/p2 HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n";
  auto raw = SendRaw(host, port, two, absl::Seconds(5));
  ASSERT_TRUE(raw.ok()) << raw.status();
  size_t first = raw->find("/api/p1");
  size_t second = raw->find("/api/p2");
  ASSERT_NE(first, std::string::npos) << *raw;
  ASSERT_NE(second, std::string::npos) << *raw;
  EXPECT_LT(first, second);
}

TEST_F(ProxyTest, ExpectContinueIsAnsweredByTheGateway) {
  // A client that waits for "100 Continue" before its body gets it from the gateway, then, once
  // it has sent the body, the backend's answer.
  auto [host, port] = *SplitHostPort(listen_);
  auto conn = RawConnection::Connect(host, port, absl::Seconds(10));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)
                  ->Write("PUT /shop/big HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                          "Expect: 100-continue\r\nConnection: close\r\n\r\n",
                          absl::Seconds(10))
                  .ok());
  auto interim = (*conn)->ReadUntil("\r\n\r\n", absl::Seconds(10));
  ASSERT_TRUE(interim.ok()) << interim.status();
  EXPECT_EQ(*interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE((*conn)->Write("hello", absl::Seconds(10)).ok());
  auto rest = (*conn)->ReadToEnd(absl::Seconds(10));
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *rest;
  EXPECT_NE(rest->find("\"body\":\"hello\""), std::string::npos) << *rest;
  ASSERT_TRUE(backend_->WaitForRequests(1, absl::Seconds(5)));
  EXPECT_EQ(backend_->requests().back().body, "hello");
  EXPECT_EQ(backend_->requests().back().HeaderCount("Expect"), 0u);

  // A client that sends its body anyway is served, and the backend never sees the Expect.
  HttpClient client = Client();
  auto res = client.Send("PUT", "/shop/big", {{"Expect", "100-continue"}}, std::string(1000, 'a'));
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  Json echo = EchoOf(*res);
  EXPECT_EQ(echo["body_length"], 1000);
  EXPECT_EQ(HeaderIn(echo, "Expect"), "<absent>");
}

}  // namespace
}  // namespace valet::testing
