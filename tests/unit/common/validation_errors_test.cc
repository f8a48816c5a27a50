#include "common/validation_errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace valet {
namespace {

using ::testing::SizeIs;

TEST(ValidationErrorsTest, StatusCarriesTheListAndTheLines) {
  absl::Status s = ValidationFailed({MakeValidationError("a.json", "name", "is required"),
                                     MakeValidationError("b.json", "", "invalid JSON")});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "a.json: name: is required\nb.json: invalid JSON");
  ASSERT_TRUE(HasValidationErrors(s));
  std::vector<v1::ValidationError> errors = ValidationErrorsOf(s);
  ASSERT_THAT(errors, SizeIs(2));
  EXPECT_EQ(errors[1].file(), "b.json");
  EXPECT_EQ(errors[1].path(), "");
  EXPECT_TRUE(ValidationFailed({}).ok());
}

TEST(ValidationErrorsTest, AStatusWithoutAListReadsAsOneError) {
  absl::Status s = absl::NotFoundError("no app named \"x\"");
  EXPECT_FALSE(HasValidationErrors(s));
  std::vector<v1::ValidationError> errors = ValidationErrorsOf(s);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].reason(), "no app named \"x\"");
  EXPECT_THAT(ValidationErrorsOf(absl::OkStatus()), SizeIs(0));
  EXPECT_EQ(GrpcStatusDetails(s), "");  // Nothing to add to code and message.
}

TEST(ValidationErrorsTest, GrpcDetailsRoundTrip) {
  absl::Status s = ValidationFailed({MakeValidationError("apps[1]", "endpoints[0].host", "x")});
  std::string details = GrpcStatusDetails(s);
  ASSERT_FALSE(details.empty());
  v1::Status wire;  // google.rpc.Status's wire form.
  ASSERT_TRUE(wire.ParseFromString(details));
  EXPECT_EQ(wire.code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  ASSERT_EQ(wire.details_size(), 1);
  EXPECT_EQ(wire.details(0).type_url(), kValidationErrorsTypeUrl);

  absl::Status back = StatusFromGrpc(3, std::string(s.message()), details);
  ASSERT_TRUE(HasValidationErrors(back));
  std::vector<v1::ValidationError> errors = ValidationErrorsOf(back);
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].file(), "apps[1]");
  EXPECT_EQ(errors[0].path(), "endpoints[0].host");

  // Details that do not parse leave a plain status.
  EXPECT_FALSE(HasValidationErrors(StatusFromGrpc(3, "m", "\xff\xff\xff")));
}

}  // namespace
}  // namespace valet
