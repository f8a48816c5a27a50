#include "common/http_framing.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

namespace http = boost::beast::http;

TEST(CheckFramingTest, AcceptsPlainFraming) {
  http::fields f;
  EXPECT_TRUE(CheckFraming(f).ok());
  f.set(http::field::content_length, "12");
  EXPECT_TRUE(CheckFraming(f).ok());
  http::fields c;
  c.set(http::field::transfer_encoding, "chunked");
  EXPECT_TRUE(CheckFraming(c).ok());
}

TEST(CheckFramingTest, RefusesAmbiguousFraming) {
  http::fields two_lengths;
  two_lengths.insert(http::field::content_length, "5");
  two_lengths.insert(http::field::content_length, "5");
  EXPECT_FALSE(CheckFraming(two_lengths).ok());

  http::fields list;
  list.set(http::field::content_length, "5, 5");
  EXPECT_FALSE(CheckFraming(list).ok());

  http::fields both;
  both.set(http::field::content_length, "5");
  both.set(http::field::transfer_encoding, "chunked");
  EXPECT_FALSE(CheckFraming(both).ok());

  http::fields gzip;
  gzip.set(http::field::transfer_encoding, "gzip, chunked");
  EXPECT_FALSE(CheckFraming(gzip).ok());

  http::fields two_codings;
  two_codings.insert(http::field::transfer_encoding, "chunked");
  two_codings.insert(http::field::transfer_encoding, "chunked");
  EXPECT_FALSE(CheckFraming(two_codings).ok());
}

// The case-insensitive match of "chunked" once compared one byte past the value when only its last
// byte differed in case (Boost 1.74's beast::iequals; the request path fuzzer found the same read
// in ParseRequestTarget).
TEST(CheckFramingTest, AcceptsChunkedInAnyCase) {
  for (const char* coding : {"chunkeD", "CHUNKED", " Chunked\t"}) {
    http::fields f;
    f.set(http::field::transfer_encoding, coding);
    EXPECT_TRUE(CheckFraming(f).ok()) << coding;
  }
  http::fields near;
  near.set(http::field::transfer_encoding, "chunkeE");
  EXPECT_FALSE(CheckFraming(near).ok());
}

}  // namespace
}  // namespace valet
