#include "dataplane/fanout/path_template.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

PathTemplate Template(std::string_view text) {
  absl::StatusOr<std::vector<TemplatePiece>> pieces = ParsePathTemplate(text);
  EXPECT_TRUE(pieces.ok()) << text << ": " << pieces.status();
  return PathTemplate(pieces.ok() ? *pieces : std::vector<TemplatePiece>{});
}

struct Rendered {
  std::string path;
  std::string query;
};

Rendered Render(const PathTemplate& t, const PathParams& params, std::string_view path,
                std::string_view query) {
  Rendered r;
  t.Render(params, path, query, &r.path, &r.query);
  return r;
}

TEST(PathTemplateTest, ParametersAndQuery) {
  PathTemplate t = Template("/users/{id}/profile?verbose={query.verbose}&id={id}");
  PathParams params = {{"id", "42"}};
  Rendered r = Render(t, params, "/user/42", "verbose=1&other=2");
  EXPECT_EQ(r.path, "/users/42/profile");
  EXPECT_EQ(r.query, "verbose=1&id=42");
  // An absent query parameter is an empty value.
  r = Render(t, params, "/user/42", "");
  EXPECT_EQ(r.query, "verbose=&id=42");
}

TEST(PathTemplateTest, WholeQueryPassesAsSent) {
  PathTemplate t = Template("/search?{query}");
  Rendered r = Render(t, {}, "/s", "q=a%20b&page=2");
  EXPECT_EQ(r.path, "/search");
  EXPECT_EQ(r.query, "q=a%20b&page=2");
  EXPECT_EQ(Render(t, {}, "/s", "").query, "");
}

TEST(PathTemplateTest, EmptyTemplateIsTheRequestsOwnTarget) {
  PathTemplate t;
  Rendered r = Render(t, {}, "/user/7", "a=1");
  EXPECT_EQ(r.path, "/user/7");
  EXPECT_EQ(r.query, "a=1");
  EXPECT_EQ(Render(t, {}, "", "").path, "/");
}

TEST(PathTemplateTest, ValuesCannotChangeTheTargetsShape) {
  PathTemplate t = Template("/users/{query.id}?x={query.x}");
  Rendered r = Render(t, {}, "/u", "id=../../admin&x=a%26b");
  EXPECT_EQ(r.path, "/users/..%2F..%2Fadmin");
  EXPECT_EQ(r.query, "x=a%26b");
  r = Render(t, {}, "/u", "id=..");
  EXPECT_EQ(r.path, "/users/%2E%2E");
  PathTemplate q = Template("/u?a={id}");
  r = Render(q, {{"id", "x&b=c"}}, "/u", "");
  EXPECT_EQ(r.query, "a=x%26b%3Dc");
}

TEST(QueryParamTest, FirstValueAsSent) {
  EXPECT_EQ(QueryParam("a=1&b=2&a=3", "a"), "1");
  EXPECT_EQ(QueryParam("a=1&b=x%20y", "b"), "x%20y");
  EXPECT_EQ(QueryParam("flag&b=2", "flag"), "");
  EXPECT_EQ(QueryParam("ab=1", "a"), "");
  EXPECT_EQ(QueryParam("", "a"), "");
}

}  // namespace
}  // namespace valet
