// The data plane's admin port (common/admin_http_server.h) answers malformed HTTP as its proxy
// port does (400, 414, 431, never a silent close) and says what a 405 allows.
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

class AdminTest : public DataplaneTest {
 protected:
  void SetUp() override {
    WriteApp("one", AppJson("one", {9}));  // Never called: only the admin port is used.
    StartDataplane();
  }

  // Sends `bytes` raw to the admin port; the whole answer and whether the server then closed.
  std::string RawAdmin(const std::string& bytes, bool* closed) {
    auto [host, port] = *SplitHostPort(admin_);
    absl::StatusOr<std::string> out = SendRaw(host, port, bytes, absl::Seconds(10), closed);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }
};

TEST_F(AdminTest, MalformedHttpIsAnsweredThenClosed) {
  struct Case {
    std::string name, bytes, status_line;
  };
  const std::vector<Case> cases = {
      {"two Content-Lengths",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
       "HTTP/1.1 400 Bad Request"},
      {"Content-Length and Transfer-Encoding",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
       "\r\n0\r\n\r\n",
       "HTTP/1.1 400 Bad Request"},
      {"a garbage request line", "\x16\x03\x01 garbage\r\n\r\n", "HTTP/1.1 400 Bad Request"},
      {"a 20 KB header",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large"},
      {"a 10,000-character path",
       "GET /healthz/" + std::string(10000, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n",
       "HTTP/1.1 414 URI Too Long"},
  };
  for (const Case& c : cases) {
    bool closed = false;
    std::string out = RawAdmin(c.bytes, &closed);
    EXPECT_EQ(out.substr(0, out.find("\r\n")), c.status_line) << c.name << ":\n" << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos) << c.name << ":\n" << out;
    EXPECT_TRUE(closed) << c.name;
  }
  auto health = Admin("/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
}

TEST_F(AdminTest, Status405SaysGetAndHeadAreAllowed) {
  HttpClient admin(admin_);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto res = admin.Send(method, "/healthz", {}, "x");
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->status, 405) << method;
    EXPECT_EQ(res->Header("Allow"), "GET, HEAD") << method;
  }
}

}  // namespace
}  // namespace valet::testing
