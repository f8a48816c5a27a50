#include "controlplane/mock_recorder.h"

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"

namespace valet {
namespace {

v1::RecordedAnswer AnswerOf(uint64_t id, std::string app, std::string path) {
  v1::RecordedAnswer a;
  a.set_recording_id(id);
  a.set_app(std::move(app));
  if (!path.empty()) a.mutable_mock()->set_path(std::move(path));
  return a;
}

TEST(MockRecorderTest, AnswersOnceCountCame) {
  MockRecorder recorder;
  absl::Notification done;
  MockRecorder::Result result;
  uint64_t id = recorder.Start("shop", 3, absl::Now() + absl::Hours(1), [&](auto r) {
    result = std::move(r);
    done.Notify();
  });
  ASSERT_NE(id, 0u);
  recorder.Add(AnswerOf(id, "shop", "/a"));
  recorder.Add(AnswerOf(id, "other", "/x"));     // Not its app.
  recorder.Add(AnswerOf(id + 1, "shop", "/y"));  // Not its recording.
  recorder.Add(AnswerOf(id, "shop", ""));        // Skipped by the data plane.
  EXPECT_FALSE(done.HasBeenNotified());
  recorder.Add(AnswerOf(id, "shop", "/b"));
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(result.complete);
  EXPECT_EQ(result.app, "shop");
  ASSERT_EQ(result.mocks.size(), 2u);
  EXPECT_EQ(result.mocks[0].path(), "/a");
  EXPECT_EQ(result.mocks[1].path(), "/b");
  EXPECT_EQ(result.skipped, 1u);
}

TEST(MockRecorderTest, AnswersWithWhatCameAtItsDeadline) {
  MockRecorder recorder;
  absl::Notification done;
  MockRecorder::Result result;
  uint64_t id = recorder.Start("shop", 5, absl::Now() + absl::Milliseconds(50), [&](auto r) {
    result = std::move(r);
    done.Notify();
  });
  recorder.Add(AnswerOf(id, "shop", "/a"));
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(result.complete);
  EXPECT_EQ(result.mocks.size(), 1u);
}

TEST(MockRecorderTest, CancelledNeverAnswersAndStopAnswersTheRest) {
  MockRecorder recorder;
  bool cancelled_called = false;
  uint64_t cancelled =
      recorder.Start("a", 1, absl::Now() + absl::Hours(1), [&](auto) { cancelled_called = true; });
  EXPECT_TRUE(recorder.Cancel(cancelled));
  EXPECT_FALSE(recorder.Cancel(cancelled));
  absl::Notification done;
  recorder.Start("b", 1, absl::Now() + absl::Hours(1), [&](auto r) {
    EXPECT_FALSE(r.complete);
    done.Notify();
  });
  recorder.Stop();
  EXPECT_TRUE(done.HasBeenNotified());
  EXPECT_FALSE(cancelled_called);
  EXPECT_EQ(recorder.Start("c", 1, absl::Now(), [](auto) {}), 0u);
}

}  // namespace
}  // namespace valet
