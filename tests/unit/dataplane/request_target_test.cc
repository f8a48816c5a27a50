#include "dataplane/request_target.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string_view>

namespace valet {
namespace {

struct Case {
  const char* target;
  const char* app;
  const char* rest;
  const char* query;
};

class RequestTargetTest : public testing::TestWithParam<Case> {};

TEST_P(RequestTargetTest, SplitsAndNormalises) {
  const Case& c = GetParam();
  absl::StatusOr<RequestTarget> t = ParseRequestTarget(c.target);
  ASSERT_TRUE(t.ok()) << c.target << ": " << t.status();
  EXPECT_EQ(t->app, c.app) << c.target;
  EXPECT_EQ(t->rest, c.rest) << c.target;
  EXPECT_EQ(t->query, c.query) << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    Targets, RequestTargetTest,
    testing::Values(Case{"/", "", "", ""}, Case{"/app", "app", "", ""},
                    Case{"/app/", "app", "/", ""}, Case{"/app/a/b?x=1&y", "app", "/a/b", "x=1&y"},
                    Case{"/app/a/../b", "app", "/b", ""}, Case{"/app/./a/.", "app", "/a/", ""},
                    Case{"/app//a///b", "app", "/a/b", ""},
                    // Dot-segments never climb out of the app into another one unseen: they are
                    // resolved first, and the result names the app that serves.
                    Case{"/app/../other/x", "other", "/x", ""},
                    Case{"/app/../../../etc/passwd", "etc", "/passwd", ""},
                    Case{"/app/%2e%2e/other", "other", "", ""}, Case{"/app/.%2E/x", "x", "", ""},
                    Case{"/app/a/%2e/b", "app", "/a/b", ""},
                    Case{"/app/a%2Fb", "app", "/a%2Fb", ""},
                    Case{"http://gw.example/app/x?q", "app", "/x", "q"},
                    Case{"http://gw.example", "", "", ""}, Case{"/app/x#frag", "app", "/x", ""}));

TEST(RequestTargetTest, RefusesWhatIsNotAPath) {
  EXPECT_FALSE(ParseRequestTarget("*").ok());
  EXPECT_FALSE(ParseRequestTarget("gw.example:443").ok());
  EXPECT_FALSE(ParseRequestTarget("").ok());
  EXPECT_FALSE(ParseRequestTarget("/app/a b").ok());
  EXPECT_FALSE(ParseRequestTarget(std::string_view("/app/\0x", 7)).ok());
  EXPECT_FALSE(ParseRequestTarget("ftp://h/app").ok());
}

TEST(RequestTargetTest, RefusesDotSegmentsABackendCouldDecode) {
  for (const char* t : {"/app/..%2f..%2fadmin", "/app/..%2Fx", "/app/..;/manager", "/app/.;x/y",
                        "/app/a\\..\\b", "/app/..%5cwin", "/app/x/%2e%2e;p/y"}) {
    EXPECT_FALSE(ParseRequestTarget(t).ok()) << t;
  }
  // Encoded slashes and parameters that hide nothing pass unchanged.
  auto t = ParseRequestTarget("/app/group%2Fproject/items;v=2");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->rest, "/group%2Fproject/items;v=2");
}

// Found by the request path fuzzer
// (fuzz/corpus/request_path/crash_iequals_past_end_dot_segment.http): a segment that matched "%2e"
// or "%2f" but for the case of its last byte was compared one byte past its end (Boost 1.74's
// beast::iequals). Each target here ends its buffer, so that the asan preset sees any read beyond
// it.
TEST(RequestTargetTest, ReadsNoByteBeyondTheTarget) {
  struct Ended {
    std::string_view target;
    bool ok;
    std::string_view app;
    std::string_view rest;
  };
  for (const Ended& c : {Ended{"/demo/%2E", true, "demo", "/"}, Ended{"/demo/.%2E", true, "", ""},
                         Ended{"/demo/%2e%2E", true, "", ""}, Ended{"/demo/a%2F..", false, "", ""},
                         Ended{"/demo/%5C", true, "demo", "/%5C"},
                         Ended{"HTTP://h/x", true, "x", ""}, Ended{"httpS://h/x", true, "x", ""}}) {
    auto buffer = std::make_unique<char[]>(c.target.size());
    std::memcpy(buffer.get(), c.target.data(), c.target.size());
    absl::StatusOr<RequestTarget> t =
        ParseRequestTarget(std::string_view(buffer.get(), c.target.size()));
    ASSERT_EQ(t.ok(), c.ok) << c.target << ": " << t.status();
    if (!t.ok()) continue;
    EXPECT_EQ(t->app, c.app) << c.target;
    EXPECT_EQ(t->rest, c.rest) << c.target;
  }
}

TEST(UpstreamTargetTest, JoinsPrefixRestAndQuery) {
  auto t = [](const char* s) { return *ParseRequestTarget(s); };
  EXPECT_EQ(UpstreamTarget("", t("/app")), "/");
  EXPECT_EQ(UpstreamTarget("", t("/app/x?q=1")), "/x?q=1");
  EXPECT_EQ(UpstreamTarget("/api", t("/app/x")), "/api/x");
  EXPECT_EQ(UpstreamTarget("/api/", t("/app/x")), "/api/x");
  EXPECT_EQ(UpstreamTarget("/api", t("/app")), "/api");
  EXPECT_EQ(UpstreamTarget("/api", t("/app/?a")), "/api/?a");
}

}  // namespace
}  // namespace valet
