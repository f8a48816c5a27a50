#include "dataplane/fanout/route_table.h"

#include <gtest/gtest.h>

#include "common/route_syntax.h"

namespace valet {
namespace {

RoutePattern Pattern(std::string_view text) {
  absl::StatusOr<std::vector<PatternSegment>> segments = ParseRoutePattern(text);
  EXPECT_TRUE(segments.ok()) << text << ": " << segments.status();
  return RoutePattern(segments.ok() ? *segments : std::vector<PatternSegment>{});
}

TEST(RoutePatternTest, LiteralsAndParameters) {
  RoutePattern p = Pattern("/user/{id}/orders/{order}");
  PathParams params;
  ASSERT_TRUE(p.Match("/user/7/orders/x%20y", &params));
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "id");
  EXPECT_EQ(params[0].second, "7");
  EXPECT_EQ(params[1].first, "order");
  EXPECT_EQ(params[1].second, "x%20y");
  EXPECT_FALSE(p.Match("/user/7/orders", &params));
  EXPECT_FALSE(p.Match("/user/7/orders/1/more", &params));
  EXPECT_FALSE(p.Match("/user/7/orders/1/", &params));
  EXPECT_FALSE(p.Match("/users/7/orders/1", &params));
  EXPECT_FALSE(p.Match("/user//orders/1", &params));
  EXPECT_TRUE(params.empty());
}

TEST(RoutePatternTest, Root) {
  RoutePattern p = Pattern("/");
  PathParams params;
  EXPECT_TRUE(p.Match("", &params));
  EXPECT_TRUE(p.Match("/", &params));
  EXPECT_FALSE(p.Match("/a", &params));
  EXPECT_FALSE(Pattern("/a").Match("", &params));
}

TEST(RouteTableTest, FirstMatchInOrderAndMethod) {
  std::vector<CompiledRoute> routes;
  routes.push_back({"GET", Pattern("/user/me"), "/user/me", nullptr});
  routes.push_back({"", Pattern("/user/{id}"), "/user/{id}", nullptr});
  routes.push_back({"POST", Pattern("/orders"), "/orders", nullptr});
  RouteTable table(std::move(routes));
  PathParams params;
  const CompiledRoute* r = table.Match("GET", "/user/me", &params);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->path, "/user/me");
  r = table.Match("DELETE", "/user/me", &params);  // The first is GET only; the second is any.
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->path, "/user/{id}");
  EXPECT_EQ(params[0].second, "me");
  EXPECT_EQ(table.Match("GET", "/orders", &params), nullptr);
  EXPECT_NE(table.Match("POST", "/orders", &params), nullptr);
  EXPECT_EQ(table.Match("post", "/orders", &params), nullptr);  // Methods are case-sensitive.
  EXPECT_EQ(table.Match("GET", "/other", &params), nullptr);
}

TEST(RouteSyntaxTest, PatternsRefused) {
  for (const char* bad : {"", "user", "/user/{id", "/user/{}", "/user/x{id}", "/a//b", "/a/",
                          "/{id}/{id}", "/{query}", "/{1x}", "/a b", "/a?b"}) {
    EXPECT_FALSE(ParseRoutePattern(bad).ok()) << bad;
  }
  absl::Status dup = ParseRoutePattern("/{id}/x/{id}").status();
  EXPECT_NE(dup.message().find("duplicate parameter \"id\""), std::string::npos) << dup;
}

TEST(RouteSyntaxTest, TemplatesRefused) {
  for (const char* bad :
       {"", "users", "/u/{id", "/u/id}", "/u/{}", "/u/{query.}", "/u?a=1?b", "/u/{1}", "/u v"}) {
    EXPECT_FALSE(ParsePathTemplate(bad).ok()) << bad;
  }
  absl::StatusOr<std::vector<TemplatePiece>> pieces = ParsePathTemplate("/u/{id}/{who}");
  ASSERT_TRUE(pieces.ok());
  absl::StatusOr<std::vector<PatternSegment>> pattern = ParseRoutePattern("/user/{id}");
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(UnknownTemplateParams(*pieces, *pattern), std::vector<std::string>{"who"});
}

TEST(RouteSyntaxTest, BackendUrls) {
  absl::StatusOr<BackendUrl> url = ParseBackendUrl("http://127.0.0.1:9001/api/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 9001);
  EXPECT_EQ(url->prefix, "/api");
  url = ParseBackendUrl("http://[::1]");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->port, 80);
  for (const char* bad : {"https://a:1", "ftp://a", "http://", "http://a:0", "http://a:99999",
                          "http://a:x", "http://u@a", "http://a/b?c", "127.0.0.1:80"}) {
    EXPECT_FALSE(ParseBackendUrl(bad).ok()) << bad;
  }
  EXPECT_EQ(BackendNameOf("", "", "http://127.0.0.1:9001/x"), "127.0.0.1:9001");
  EXPECT_EQ(BackendNameOf("", "users", ""), "users");
  EXPECT_EQ(BackendNameOf("u", "users", ""), "u");
}

}  // namespace
}  // namespace valet
