#include "common/path_pattern.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

PathPattern MustCompile(std::string_view text) {
  absl::StatusOr<PathPattern> p = PathPattern::Compile(text);
  EXPECT_TRUE(p.ok()) << text << ": " << p.status();
  return p.ok() ? *std::move(p) : *PathPattern::Compile("/");
}

TEST(PathPatternTest, RootMatchesOnlyTheRoot) {
  PathPattern root = MustCompile("/");
  EXPECT_TRUE(root.Match(""));
  EXPECT_TRUE(root.Match("/"));
  EXPECT_FALSE(root.Match("/a"));
}

TEST(PathPatternTest, LiteralsMatchWholeSegments) {
  PathPattern p = MustCompile("/users/me");
  EXPECT_TRUE(p.Match("/users/me"));
  EXPECT_TRUE(p.Match("/users/me/"));
  EXPECT_FALSE(p.Match("/users"));
  EXPECT_FALSE(p.Match("/users/mee"));
  EXPECT_FALSE(p.Match("/users/me/x"));
  EXPECT_FALSE(p.Match("/Users/me"));
  EXPECT_TRUE(MustCompile("/users/").Match("/users"));
}

TEST(PathPatternTest, ParametersCaptureOneSegment) {
  PathPattern p = MustCompile("/users/{id}/orders/{order_2}");
  PathParams params;
  ASSERT_TRUE(p.Match("/users/42/orders/x%20y", &params));
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "id");
  EXPECT_EQ(params[0].second, "42");
  EXPECT_EQ(params[1].first, "order_2");
  EXPECT_EQ(params[1].second, "x%20y") << "as it appears in the path, still percent-encoded";
  EXPECT_TRUE(p.Match("/users/42/orders/1/", &params)) << "a trailing slash is the same path";
  EXPECT_FALSE(p.Match("/users/42/orders", &params));
  EXPECT_FALSE(p.Match("/users/42/orders/1/2", &params));
  EXPECT_FALSE(p.Match("/users//orders/1", &params));
  EXPECT_TRUE(params.empty()) << "a failed match leaves no parameters";
  EXPECT_TRUE(p.HasParam("order_2"));
  EXPECT_FALSE(p.HasParam("user"));
}

TEST(PathPatternTest, TrailingWildcardMatchesAnyRest) {
  PathPattern p = MustCompile("/static/*");
  EXPECT_TRUE(p.Match("/static"));
  EXPECT_TRUE(p.Match("/static/a"));
  EXPECT_TRUE(p.Match("/static/a/b/c.css"));
  EXPECT_FALSE(p.Match("/stat"));
  EXPECT_FALSE(p.Match("/staticx/a"));
  PathPattern all = MustCompile("/*");
  EXPECT_TRUE(all.Match(""));
  EXPECT_TRUE(all.Match("/x/y"));
}

TEST(PathPatternTest, RefusesMalformedPatterns) {
  for (const char* bad :
       {"", "users", "/a//b", "/a/*/b", "/a/**", "/{}", "/{1a}", "/{a-b}", "/{id", "/x{id}",
        "/{id}x", "/a b", "/a?b", "/a#b", "/a|b", "/{id}/{id}", "/a*", "/{query}"}) {
    EXPECT_FALSE(PathPattern::Compile(bad).ok()) << bad;
  }
  EXPECT_EQ(PathPattern::Compile("/a/{id}/{id}").status().message(),
            "bad path pattern: parameter {id} repeated");
  EXPECT_EQ(PathPattern::Compile("/user/{id").status().message(),
            "bad path pattern: segment \"{id\": a parameter is \"{NAME}\", the whole segment");
  EXPECT_TRUE(PathPattern::Compile("/" + std::string(2000, 'a')).ok());
  EXPECT_FALSE(PathPattern::Compile("/" + std::string(kMaxPathPatternBytes, 'a')).ok());
}

}  // namespace
}  // namespace valet
