#include "dataplane/tls/dns_name_match.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

TEST(DnsNameMatchTest, ExactNamesIgnoreCaseAndTrailingDot) {
  EXPECT_TRUE(DnsNameMatches("api.example.com", "api.example.com"));
  EXPECT_TRUE(DnsNameMatches("API.Example.com", "api.example.COM"));
  EXPECT_TRUE(DnsNameMatches("api.example.com.", "api.example.com"));
  EXPECT_FALSE(DnsNameMatches("api.example.com", "www.example.com"));
  EXPECT_FALSE(DnsNameMatches("api.example.com", "api.example.com.evil"));
  EXPECT_FALSE(DnsNameMatches("", "a"));
  EXPECT_FALSE(DnsNameMatches("a", ""));
}

TEST(DnsNameMatchTest, WildcardCoversExactlyOneLeftMostLabel) {
  EXPECT_TRUE(DnsNameMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(DnsNameMatches("*.example.com", "B.EXAMPLE.com"));
  EXPECT_FALSE(DnsNameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(DnsNameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(DnsNameMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(DnsNameMatches("*.com", "example.com"));
  EXPECT_FALSE(DnsNameMatches("a*.example.com", "ab.example.com"));
}

}  // namespace
}  // namespace valet
