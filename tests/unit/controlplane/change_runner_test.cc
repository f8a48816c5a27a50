#include "controlplane/change_runner.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace valet {
namespace {

TEST(ChangeRunnerTest, RunsTasksInOrderOnItsOwnThread) {
  ChangeRunner runner;
  absl::Mutex mu;
  std::vector<int> ran;
  std::thread::id runner_thread;
  absl::Notification done;
  for (int i = 0; i < 100; ++i) {
    runner.Post([&, i] {
      absl::MutexLock lock(&mu);
      ran.push_back(i);
      runner_thread = std::this_thread::get_id();
    });
  }
  runner.Post([&] { done.Notify(); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[i], i);
  EXPECT_NE(runner_thread, std::this_thread::get_id());
}

TEST(ChangeRunnerTest, PostReturnsWhileATaskIsStuck) {
  ChangeRunner runner;
  absl::Notification started, release, second;
  runner.Post([&] {
    started.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(60));
  });
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  runner.Post([&] { second.Notify(); });  // Returns at once: the caller does not wait.
  EXPECT_FALSE(second.HasBeenNotified());
  release.Notify();
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(ChangeRunnerTest, StopRunsWhatWasPostedAndLaterTasksRunInline) {
  int ran = 0;  // Stop joins the runner's thread: no lock needed after it.
  auto runner = std::make_unique<ChangeRunner>();
  for (int i = 0; i < 10; ++i) runner->Post([&ran] { ++ran; });
  runner->Stop();
  EXPECT_EQ(ran, 10);
  std::thread::id where;
  runner->Post([&where] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
  runner->Stop();  // Idempotent.
}

}  // namespace
}  // namespace valet
