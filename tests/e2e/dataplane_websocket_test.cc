// Upgrade requests through the gateway: a real WebSocket exchange (handshake, text and binary
// messages both ways, close) with a real WebSocket server behind the gateway, the tunnel's idle
// timeout, and the answers a protocol switch must not get.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/buffers_to_string.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/websocket.hpp"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/websocket_echo.h"

namespace valet::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// A WebSocket client whose every operation is bounded: it runs the loop for at most 10 s.
class WsClient {
 public:
  explicit WsClient(const std::string& host_port) {
    auto colon = host_port.rfind(':');
    endpoint_ = {asio::ip::make_address(host_port.substr(0, colon)),
                 static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)))};
  }

  beast::error_code Connect(const std::string& target) {
    beast::error_code ec = Run([&](auto done) { ws_.next_layer().async_connect(endpoint_, done); });
    if (ec) return ec;
    return Run([&](auto done) {
      ws_.async_handshake(response_, "127.0.0.1", target,
                          [done](beast::error_code ec) { done(ec, 0); });
    });
  }

  beast::error_code Write(const std::string& message, bool binary) {
    ws_.binary(binary);
    return Run([&](auto done) { ws_.async_write(asio::buffer(message), done); });
  }

  // The next message, or the error that ended the read.
  beast::error_code Read(std::string* message, bool* binary = nullptr) {
    beast::flat_buffer buffer;
    beast::error_code ec = Run([&](auto done) { ws_.async_read(buffer, done); });
    *message = beast::buffers_to_string(buffer.data());
    if (binary) *binary = ws_.got_binary();
    return ec;
  }

  beast::error_code Close() {
    return Run([&](auto done) {
      ws_.async_close(websocket::close_code::normal, [done](beast::error_code ec) { done(ec, 0); });
    });
  }

  const websocket::response_type& handshake_response() const { return response_; }

 private:
  template <class Start>
  beast::error_code Run(Start start) {
    bool finished = false;
    beast::error_code result;
    start([&](beast::error_code ec, size_t = 0) {
      finished = true;
      result = ec;
    });
    io_.restart();
    io_.run_for(std::chrono::seconds(10));
    if (!finished) {
      beast::error_code ignored;
      ws_.next_layer().close(ignored);
      io_.restart();
      io_.run_for(std::chrono::seconds(1));
      return asio::error::timed_out;
    }
    return result;
  }

  asio::io_context io_;
  tcp::endpoint endpoint_;
  websocket::stream<tcp::socket> ws_{io_};
  websocket::response_type response_;
};

class WebSocketTest : public DataplaneTest {
 protected:
  void SetUp() override {
    auto echo = WebSocketEcho::Start();
    ASSERT_TRUE(echo.ok()) << echo.status();
    echo_ = std::move(*echo);
    WriteApp("ws", AppJson("ws", {echo_->port()}));
  }

  std::unique_ptr<WebSocketEcho> echo_;
};

TEST_F(WebSocketTest, MessagesGoBothWaysThroughTheTunnel) {
  StartDataplane();
  WsClient client(listen_);
  ASSERT_FALSE(client.Connect("/ws/chat?room=1"));
  EXPECT_EQ(client.handshake_response().result_int(), 101);

  // The backend saw the app's path and the gateway's forwarding fields.
  ASSERT_EQ(echo_->handshake_targets().size(), 1u);
  EXPECT_EQ(echo_->handshake_targets()[0], "/chat?room=1");
  EXPECT_FALSE(FirstField(echo_->handshake_fields()[0], "X-Forwarded-For").empty());
  EXPECT_TRUE(WaitForMetric("valet_active_tunnels", 1));

  std::string got;
  bool binary = true;
  ASSERT_FALSE(client.Write("hello", /*binary=*/false));
  ASSERT_FALSE(client.Read(&got, &binary));
  EXPECT_EQ(got, "hello");
  EXPECT_FALSE(binary);

  // Larger than any buffer on the way, in both directions.
  std::string big(300 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  ASSERT_FALSE(client.Write(big, /*binary=*/true));
  ASSERT_FALSE(client.Read(&got, &binary));
  EXPECT_TRUE(binary);
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);

  // Many small messages in a row keep their order.
  for (int i = 0; i < 50; ++i) ASSERT_FALSE(client.Write("m" + std::to_string(i), false));
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(client.Read(&got));
    ASSERT_EQ(got, "m" + std::to_string(i));
  }

  // A close handshake passes through, and both connections end.
  EXPECT_FALSE(client.Close());
  EXPECT_TRUE(WaitFor([&] { return echo_->open_connections() == 0; }, absl::Seconds(10)));
  EXPECT_TRUE(WaitForMetric("valet_active_tunnels", 0));
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="ws",class="1xx"})", 1));
}

TEST_F(WebSocketTest, IdleTunnelIsClosed) {
  StartDataplane({"--tunnel-idle-timeout-ms", "300"});
  WsClient client(listen_);
  ASSERT_FALSE(client.Connect("/ws/"));
  std::string got;
  ASSERT_FALSE(client.Write("before", false));
  ASSERT_FALSE(client.Read(&got));
  EXPECT_EQ(got, "before");
  // Nothing moves: the gateway closes the tunnel (well before the client's 10 s bound).
  beast::error_code ec = client.Read(&got);
  EXPECT_TRUE(ec) << "read a message after the idle timeout: " << got;
  EXPECT_NE(ec, asio::error::timed_out);
  EXPECT_TRUE(WaitFor([&] { return echo_->open_connections() == 0; }, absl::Seconds(10)));
  EXPECT_TRUE(WaitForMetric("valet_active_tunnels", 0));
}

TEST_F(WebSocketTest, TunnelSurvivesAConfigSwap) {
  StartDataplane();
  WsClient client(listen_);
  ASSERT_FALSE(client.Connect("/ws/"));
  // The app is removed; a tunnel already open is not a request of the new config.
  WriteApp("other", AppJson("other", {echo_->port()}));
  std::remove(dir_.Join("conf/ws.json").c_str());
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  EXPECT_TRUE(WaitFor([&] { return Client().Get("/ws/").value_or(HttpResponse{}).status == 404; },
                      absl::Seconds(10)));
  std::string got;
  ASSERT_FALSE(client.Write("still here", false));
  ASSERT_FALSE(client.Read(&got));
  EXPECT_EQ(got, "still here");
}

TEST_F(DataplaneTest, SwitchToARequestThatDidNotAskIsABadAnswer) {
  auto backend = StartBackend("b", [](const RecordedRequest&) {
    return BackendReply::Raw(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  });
  WriteApp("a", AppJson("a", {backend->port()}));
  StartDataplane();
  auto res = Client().Get("/a/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 502, "bad_upstream_response");
}

TEST_F(DataplaneTest, UpgradeFieldsReachTheBackendWhichMayDecline) {
  auto backend = StartBackend("b");  // Answers 200: declines the switch.
  WriteApp("a", AppJson("a", {backend->port()}));
  StartDataplane();
  auto res = Client().Get("/a/x", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(backend->requests().size(), 1u);
  EXPECT_EQ(backend->requests()[0].Header("Upgrade"), "websocket");
  EXPECT_EQ(backend->requests()[0].Header("Connection"), "upgrade");
  // The connection goes on as HTTP.
  auto again = Client().Get("/a/y");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200);
}

TEST_F(DataplaneTest, H2cUpgradeIsNotPassedOn) {
  auto backend = StartBackend("b");
  WriteApp("a", AppJson("a", {backend->port()}));
  StartDataplane();
  auto res = Client().Get("/a/x", {{"Connection", "Upgrade, HTTP2-Settings"},
                                   {"Upgrade", "h2c"},
                                   {"HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(backend->requests().size(), 1u);
  EXPECT_EQ(backend->requests()[0].HeaderCount("Upgrade"), 0u);
  EXPECT_EQ(backend->requests()[0].HeaderCount("HTTP2-Settings"), 0u);
}

}  // namespace
}  // namespace valet::testing
