#include "dataplane/mocks/mock_table.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

v1::AppConfig AppWithMocks() {
  v1::AppConfig app;
  auto add = [&](std::string method, std::string path, std::string text) {
    v1::Mock* m = app.add_mocks();
    m->set_method(std::move(method));
    m->set_path(std::move(path));
    m->set_text(std::move(text));
  };
  add("GET", "/users/me", "me");
  add("GET", "/users/{id}", "someone");
  add("*", "/users/*", "anything");
  add("POST", "/orders", "order");
  return app;
}

TEST(MockTableTest, FirstMatchInConfigOrderWins) {
  auto table = MockTable::Compile(AppWithMocks());
  ASSERT_TRUE(table.ok()) << table.status();
  auto body = [&](std::string_view method, std::string_view path) -> std::string {
    const CompiledMock* m = (*table)->Find(method, path);
    return m == nullptr ? "-" : m->body;
  };
  EXPECT_EQ(body("GET", "/users/me"), "me");
  EXPECT_EQ(body("GET", "/users/7"), "someone");
  EXPECT_EQ(body("PUT", "/users/7"), "anything");
  EXPECT_EQ(body("GET", "/users/7/x"), "anything");
  EXPECT_EQ(body("HEAD", "/users/me"), "me");
  EXPECT_EQ(body("POST", "/orders"), "order");
  EXPECT_EQ(body("GET", "/orders"), "-");
  EXPECT_EQ(body("POST", ""), "-");
}

TEST(MockTableTest, DefaultsStatusAndContentType) {
  v1::AppConfig app;
  v1::Mock* json = app.add_mocks();
  json->set_path("/j");
  json->set_json("{}");
  v1::Mock* typed = app.add_mocks();
  typed->set_path("/t");
  typed->set_status(204);
  typed->set_text("x");
  v1::MockHeader* h = typed->add_headers();
  h->set_name("content-type");
  h->set_value("text/csv");
  auto table = MockTable::Compile(app);
  ASSERT_TRUE(table.ok()) << table.status();
  const CompiledMock* j = (*table)->Find("GET", "/j");
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->status, 200u);
  ASSERT_EQ(j->headers.size(), 1u);
  EXPECT_EQ(j->headers[0].second, "application/json");
  const CompiledMock* t = (*table)->Find("GET", "/t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->status, 204u);
  ASSERT_EQ(t->headers.size(), 1u);
  EXPECT_EQ(t->headers[0].second, "text/csv");
}

TEST(MockTableTest, RefusesABadPattern) {
  v1::AppConfig app;
  app.add_mocks()->set_path("/a/*/b");
  EXPECT_FALSE(MockTable::Compile(app).ok());
}

}  // namespace
}  // namespace valet
