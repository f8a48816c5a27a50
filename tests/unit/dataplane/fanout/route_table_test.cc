#include "dataplane/fanout/route_table.h"

#include <gtest/gtest.h>

#include "common/route_syntax.h"

namespace valet {
namespace {

PathPattern Pattern(std::string_view text) {
  absl::StatusOr<PathPattern> pattern = PathPattern::Compile(text);
  EXPECT_TRUE(pattern.ok()) << pattern.status();
  return pattern.ok() ? *std::move(pattern) : *PathPattern::Compile("/");
}

TEST(RouteTableTest, FirstMatchInOrderAndMethod) {
  std::vector<CompiledRoute> routes;
  routes.push_back({"GET", Pattern("/user/me"), nullptr});
  routes.push_back({"", Pattern("/user/{id}"), nullptr});
  routes.push_back({"POST", Pattern("/orders"), nullptr});
  RouteTable table(std::move(routes));
  PathParams params;
  const CompiledRoute* r = table.Match("GET", "/user/me", &params);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pattern.text(), "/user/me");
  r = table.Match("DELETE", "/user/me", &params);  // The first is GET only; the second is any.
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pattern.text(), "/user/{id}");
  EXPECT_EQ(params[0].second, "me");
  EXPECT_EQ(table.Match("GET", "/orders", &params), nullptr);
  EXPECT_NE(table.Match("POST", "/orders", &params), nullptr);
  EXPECT_EQ(table.Match("post", "/orders", &params), nullptr);  // Methods are case-sensitive.
  EXPECT_EQ(table.Match("GET", "/other", &params), nullptr);
}

TEST(RouteSyntaxTest, TemplatesRefused) {
  for (const char* bad :
       {"", "users", "/u/{id", "/u/id}", "/u/{}", "/u/{query.}", "/u?a=1?b", "/u/{1}", "/u v"}) {
    EXPECT_FALSE(ParsePathTemplate(bad).ok()) << bad;
  }
  absl::StatusOr<std::vector<TemplatePiece>> pieces = ParsePathTemplate("/u/{id}/{who}");
  ASSERT_TRUE(pieces.ok());
  EXPECT_EQ(UnknownTemplateParams(*pieces, Pattern("/user/{id}")), std::vector<std::string>{"who"});
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
