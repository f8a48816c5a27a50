#include "common/error_body.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/validation_errors.h"

namespace valet {
namespace {

TEST(ErrorBodyTest, OneShapeWithOptionalAppAndDetails) {
  EXPECT_EQ(RenderErrorBody({404, "unknown_app", "no app named \"x\"", "x"}),
            R"({"error":{"status":404,"code":"unknown_app","message":"no app named \"x\"",)"
            R"("app":"x"}})"
            "\n");
  EXPECT_EQ(RenderErrorBody({400,
                             "invalid_argument",
                             "m",
                             "",
                             {MakeValidationError("request", "endpoints[0].port", "bad")}}),
            R"({"error":{"status":400,"code":"invalid_argument","message":"m",)"
            R"("details":[{"file":"request","path":"endpoints[0].port","reason":"bad"}]}})"
            "\n");
}

TEST(ErrorBodyTest, InvalidUtf8IsReplacedNotRefused) {
  std::string body = RenderErrorBody({400, "bad_request", "bad \xff byte"});
  EXPECT_THAT(body, ::testing::HasSubstr("bad \xEF\xBF\xBD byte"));
}

TEST(ErrorBodyTest, CodesAreSnakeCase) {
  EXPECT_EQ(ErrorCodeName(absl::StatusCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(ErrorCodeName(absl::StatusCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(ErrorCodeName(absl::StatusCode::kNotFound), "not_found");
  EXPECT_EQ(ErrorCodeName(static_cast<absl::StatusCode>(99)), "unknown");
}

}  // namespace
}  // namespace valet
