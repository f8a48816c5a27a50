#include "dataplane/mocks/answer_recorder.h"

#include <gtest/gtest.h>

#include <vector>

namespace valet {
namespace {

v1::RecordStart StartOf(std::string app, uint32_t count, uint64_t id = 7) {
  v1::RecordStart start;
  start.set_recording_id(id);
  start.set_app(std::move(app));
  start.set_count(count);
  start.set_max_body_bytes(16);
  start.set_timeout_ms(60000);
  return start;
}

TEST(AnswerRecorderTest, ClaimsOnlyTheRecordedAppUpToItsCount) {
  AnswerRecorder recorder;
  EXPECT_FALSE(recorder.active());
  EXPECT_EQ(recorder.Claim("shop"), nullptr);
  recorder.Start(StartOf("shop", 2));
  EXPECT_TRUE(recorder.active());
  EXPECT_EQ(recorder.Claim("other"), nullptr);
  auto first = recorder.Claim("shop");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->recording_id, 7u);
  EXPECT_EQ(first->max_body_bytes, 16u);
  EXPECT_NE(recorder.Claim("shop"), nullptr);
  EXPECT_EQ(recorder.Claim("shop"), nullptr);
  EXPECT_FALSE(recorder.active());

  recorder.Start(StartOf("shop", 5));
  recorder.Start(StartOf("shop", 0));  // Stops it.
  EXPECT_FALSE(recorder.active());
}

TEST(AnswerRecorderTest, KeepsOnlyContentHeaders) {
  boost::beast::http::fields fields;
  fields.set("Content-Type", "application/json");
  fields.set("Set-Cookie", "session=secret");
  fields.set("Authorization", "Bearer secret");
  fields.set("X-Valet-Auth", "secret");
  fields.set("cache-control", "no-store");
  AnswerCapture capture;
  AnswerRecorder::CaptureHeaders(fields, capture);
  ASSERT_EQ(capture.headers.size(), 2u);
  EXPECT_EQ(capture.headers[0].first, "Content-Type");
  EXPECT_EQ(capture.headers[1].first, "Cache-Control");
  EXPECT_EQ(capture.headers[1].second, "no-store");
}

TEST(AnswerRecorderTest, DeliversMocksAndSkipsWhatCannotBeOne) {
  AnswerRecorder recorder;
  std::vector<v1::DataPlaneMessage> sent;
  recorder.set_sink([&](v1::DataPlaneMessage m) { sent.push_back(std::move(m)); });
  AnswerCapture json;
  json.recording_id = 3;
  json.app = "shop";
  json.method = "GET";
  json.path = "/items/1";
  json.status = 200;
  json.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  json.body = R"({ "a" : 1 })";
  recorder.Deliver(json);
  AnswerCapture text = json;
  text.headers = {{"Content-Type", "text/plain"}};
  text.body = "hello";
  text.path = "";
  recorder.Deliver(text);
  AnswerCapture binary = json;
  binary.body = std::string("\xff\xfe", 2);
  recorder.Deliver(binary);
  AnswerCapture large = json;
  large.body_too_large = true;
  recorder.Deliver(large);
  AnswerCapture odd_path = text;
  odd_path.path = "/a/{b}";
  recorder.Deliver(odd_path);

  ASSERT_EQ(sent.size(), 5u);
  const v1::RecordedAnswer& a = sent[0].recorded();
  EXPECT_EQ(a.recording_id(), 3u);
  EXPECT_EQ(a.app(), "shop");
  ASSERT_TRUE(a.has_mock());
  EXPECT_EQ(a.mock().method(), "GET");
  EXPECT_EQ(a.mock().path(), "/items/1");
  EXPECT_EQ(a.mock().status(), 200u);
  EXPECT_EQ(a.mock().json(), R"({"a":1})");
  ASSERT_TRUE(sent[1].recorded().has_mock());
  EXPECT_EQ(sent[1].recorded().mock().text(), "hello");
  EXPECT_EQ(sent[1].recorded().mock().path(), "/");
  EXPECT_FALSE(sent[2].recorded().has_mock());
  EXPECT_FALSE(sent[3].recorded().has_mock());
  EXPECT_FALSE(sent[4].recorded().has_mock());
}

}  // namespace
}  // namespace valet
