// Clients too slow to be served: a request body that stops arriving gets 408 and the connection
// closes; a client that stops reading a large answer is cut off. Both within the client timeout
// (--client-timeout-ms, the deadline of every client read and write, as nginx's
// client_body_timeout and send_timeout).
#include <gtest/gtest.h>

#include <string>

#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/raw_connection.h"

namespace valet::testing {
namespace {

std::unique_ptr<RawConnection> Connect(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  auto conn = RawConnection::Connect(host_port.substr(0, colon),
                                     std::stoi(host_port.substr(colon + 1)), absl::Seconds(5));
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

TEST_F(DataplaneTest, ABodyThatStopsArrivingGets408) {
  auto backend = StartBackend("b");
  WriteApp("a", AppJson("a", {backend->port()}));
  StartDataplane({"--client-timeout-ms", "300"});
  auto conn = Connect(listen_);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->Write("POST /a/upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc",
                          absl::Seconds(5))
                  .ok());
  // The rest of the body never comes.
  auto answer = conn->ReadToEnd(absl::Seconds(10));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->rfind("HTTP/1.1 408 ", 0), 0u) << *answer;
  EXPECT_NE(answer->find("\"code\":\"request_timeout\""), std::string::npos) << *answer;
  EXPECT_NE(answer->find("Connection: close"), std::string::npos) << *answer;
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="a",class="4xx"})", 1));
  // The backend never saw a whole request, and its connection is not reused.
  EXPECT_TRUE(WaitFor([&] { return backend->open_connections() == 0; }, absl::Seconds(10)));
}

TEST_F(DataplaneTest, AClientThatStopsReadingIsCutOff) {
  const std::string big(32 << 20, 'x');  // Far more than socket buffers hold.
  auto backend =
      StartBackend("b", [&](const RecordedRequest&) { return BackendReply::Respond(200, big); });
  WriteApp("a", AppJson("a", {backend->port()}));
  StartDataplane({"--client-timeout-ms", "300"});
  auto conn = Connect(listen_);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->Write("GET /a/big HTTP/1.1\r\nHost: h\r\n\r\n", absl::Seconds(5)).ok());
  // The client reads nothing: once the buffers are full the gateway's write deadline passes and
  // it closes the connection, and the backend's. (Both counts are zero before the request
  // reaches the backend too: wait for it first.)
  ASSERT_TRUE(backend->WaitForRequests(1, absl::Seconds(10)));
  EXPECT_TRUE(WaitForMetric("valet_active_connections", 0));
  EXPECT_TRUE(WaitFor([&] { return backend->open_connections() == 0; }, absl::Seconds(10)));
  auto rest = conn->ReadToEnd(absl::Seconds(10));
  // Whatever arrived (or a reset), it is not the whole answer.
  if (rest.ok()) {
    EXPECT_LT(rest->size(), big.size());
  }
}

}  // namespace
}  // namespace valet::testing
