#include "dataplane/fanout/merger.h"

#include <gtest/gtest.h>

namespace valet {
namespace {

LegReport Ok(std::string_view backend, std::string_view json, std::string_view group = "") {
  LegReport r;
  r.backend = backend;
  r.group = group;
  std::string detail;
  LegOutcome outcome = ParseLegAnswer(json, !group.empty(), &r.value, &detail);
  EXPECT_EQ(outcome, LegOutcome::kOk) << json << ": " << detail;
  return r;
}

LegReport Failed(std::string_view backend, LegOutcome outcome, bool required) {
  LegReport r;
  r.backend = backend;
  r.outcome = outcome;
  r.required = required;
  r.detail = "why";
  return r;
}

LegJson Body(const MergedAnswer& a) {
  EXPECT_FALSE(a.error) << a.error->message;
  return LegJson::parse(a.body, nullptr, false);
}

TEST(MergerTest, ObjectsMergeInConfigOrder) {
  std::vector<LegReport> legs = {Ok("a", R"({"id":1,"name":"x"})"), Ok("b", R"({"orders":[1]})"),
                                 Ok("c", "")};
  MergedAnswer a = MergeLegs(legs, CollisionPolicy::kError);
  EXPECT_EQ(a.body, R"({"id":1,"name":"x","orders":[1]})");
  EXPECT_TRUE(a.missing_header.empty());
}

TEST(MergerTest, GroupsKeepAnswersApartAndMergeWithinAGroup) {
  std::vector<LegReport> legs = {Ok("a", R"({"id":1})", "user"), Ok("b", R"([1,2])", "orders"),
                                 Ok("c", R"({"name":"x"})", "user"), Ok("d", R"({"id":2})")};
  LegJson body = Body(MergeLegs(legs, CollisionPolicy::kError));
  EXPECT_EQ(body, LegJson::parse(R"({"user":{"id":1,"name":"x"},"orders":[1,2],"id":2})"));
}

TEST(MergerTest, CollisionPolicies) {
  auto legs = [] {
    return std::vector<LegReport>{Ok("a", R"({"id":1,"x":1})"), Ok("b", R"({"id":2,"y":2})")};
  };
  auto l1 = legs();
  MergedAnswer error = MergeLegs(l1, CollisionPolicy::kError);
  ASSERT_TRUE(error.error);
  EXPECT_EQ(error.error->status, 502);
  EXPECT_EQ(error.error->code, "fanout_key_collision");
  EXPECT_NE(error.error->message.find(R"("id" (backends "a" and "b"))"), std::string::npos)
      << error.error->message;
  auto l2 = legs();
  EXPECT_EQ(Body(MergeLegs(l2, CollisionPolicy::kFirst)),
            LegJson::parse(R"({"id":1,"x":1,"y":2})"));
  auto l3 = legs();
  EXPECT_EQ(Body(MergeLegs(l3, CollisionPolicy::kLast)), LegJson::parse(R"({"id":2,"x":1,"y":2})"));
}

TEST(MergerTest, CollisionInsideAGroupAndWithAGroupKey) {
  std::vector<LegReport> legs = {Ok("a", R"({"id":1})", "user"), Ok("b", R"({"id":2})", "user")};
  MergedAnswer a = MergeLegs(legs, CollisionPolicy::kError);
  ASSERT_TRUE(a.error);
  EXPECT_NE(a.error->message.find("\"user.id\""), std::string::npos) << a.error->message;
  std::vector<LegReport> legs2 = {Ok("a", R"({"id":1})", "user"), Ok("b", R"({"user":"x"})")};
  a = MergeLegs(legs2, CollisionPolicy::kError);
  ASSERT_TRUE(a.error);
  EXPECT_NE(a.error->message.find("\"user\""), std::string::npos) << a.error->message;
}

TEST(MergerTest, MissingOptionalLegsAreReported) {
  std::vector<LegReport> legs = {Ok("a", R"({"id":1})"),
                                 Failed("b", LegOutcome::kTimeout, /*required=*/false),
                                 Failed("c", LegOutcome::kNotJson, /*required=*/false)};
  MergedAnswer a = MergeLegs(legs, CollisionPolicy::kError);
  LegJson body = Body(a);
  EXPECT_EQ(body["id"], 1);
  ASSERT_EQ(body["_valet"]["missing"].size(), 2u);
  EXPECT_EQ(body["_valet"]["missing"][0]["backend"], "b");
  EXPECT_EQ(body["_valet"]["missing"][0]["reason"], "timeout");
  EXPECT_EQ(body["_valet"]["missing"][1]["reason"], "not_json");
  EXPECT_EQ(a.missing_header, "b=timeout, c=not_json");
}

TEST(MergerTest, FailedRequiredLegDecides) {
  std::vector<LegReport> legs = {Ok("a", R"({"id":1})"),
                                 Failed("b", LegOutcome::kTimeout, /*required=*/true)};
  MergedAnswer a = MergeLegs(legs, CollisionPolicy::kError);
  ASSERT_TRUE(a.error);
  EXPECT_EQ(a.error->status, 504);
  EXPECT_EQ(a.error->code, "fanout_backend_timeout");
  EXPECT_NE(a.error->message.find("\"b\""), std::string::npos);
  std::vector<LegReport> legs2 = {Failed("a", LegOutcome::kStatus, /*required=*/true),
                                  Failed("b", LegOutcome::kTimeout, /*required=*/true)};
  a = MergeLegs(legs2, CollisionPolicy::kError);
  ASSERT_TRUE(a.error);
  EXPECT_EQ(a.error->status, 502);
  EXPECT_EQ(a.error->code, "fanout_backend_failed");
  EXPECT_NE(a.error->message.find("\"a\""), std::string::npos);
}

TEST(MergerTest, LegAnswersThatAreNotMergeable) {
  LegJson value;
  std::string detail;
  EXPECT_EQ(ParseLegAnswer("<html>", false, &value, &detail), LegOutcome::kNotJson);
  EXPECT_EQ(ParseLegAnswer("[1,2]", false, &value, &detail), LegOutcome::kNotJson);
  EXPECT_EQ(ParseLegAnswer("[1,2]", true, &value, &detail), LegOutcome::kOk);
  EXPECT_EQ(ParseLegAnswer("{\"a\":1", false, &value, &detail), LegOutcome::kNotJson);
  std::string deep(100, '[');
  deep += std::string(100, ']');
  EXPECT_EQ(ParseLegAnswer(deep, true, &value, &detail), LegOutcome::kNotJson);
  EXPECT_NE(detail.find("deeper"), std::string::npos);
}

}  // namespace
}  // namespace valet
