#include "dataplane/http_fields.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

namespace http = boost::beast::http;

TEST(CheckHostTest, OneHostInHttp11) {
  http::fields none;
  EXPECT_FALSE(CheckHost(none, 11).ok());
  EXPECT_TRUE(CheckHost(none, 10).ok());
  http::fields two;
  two.insert(http::field::host, "a");
  two.insert(http::field::host, "b");
  EXPECT_FALSE(CheckHost(two, 11).ok());
  http::fields one;
  one.set(http::field::host, "a");
  EXPECT_TRUE(CheckHost(one, 11).ok());
}

TEST(StripHopByHopTest, RemovesHopByHopAndConnectionNamedFields) {
  http::fields f;
  f.set(http::field::connection, "keep-alive, X-Secret");
  f.set("X-Secret", "1");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::upgrade, "websocket");
  f.set(http::field::te, "trailers");
  f.set("Proxy-Connection", "keep-alive");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::content_type, "text/plain");
  f.set("X-Keep", "yes");
  StripHopByHop(f);
  for (const char* gone : {"Connection", "X-Secret", "Keep-Alive", "Upgrade", "TE",
                           "Proxy-Connection", "Transfer-Encoding"}) {
    EXPECT_EQ(f.find(gone), f.end()) << gone;
  }
  EXPECT_EQ(f[http::field::content_type], "text/plain");
  EXPECT_EQ(f["X-Keep"], "yes");
}

TEST(SetForwardedFieldsTest, AppendsToAnExistingChain) {
  http::fields f;
  f.set(http::field::host, "gw.example:8000");
  f.set("X-Forwarded-For", "203.0.113.7");
  SetForwardedFields(f, "127.0.0.1", "http");
  EXPECT_EQ(f["X-Forwarded-For"], "203.0.113.7, 127.0.0.1");
  EXPECT_EQ(f["X-Forwarded-Proto"], "http");
  EXPECT_EQ(f["X-Forwarded-Host"], "gw.example:8000");
}

}  // namespace
}  // namespace valet
