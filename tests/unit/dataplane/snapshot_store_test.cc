// SnapshotStore with real worker threads: `served` (what the control client ACKs) comes only once
// every worker has swapped the snapshot in, never at the hand-off.
#include "dataplane/snapshot_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dataplane/metrics.h"
#include "dataplane/mocks/answer_recorder.h"
#include "dataplane/options.h"
#include "dataplane/worker.h"
#include "tests/support/worker_probe.h"

namespace valet {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(10);

v1::ConfigSnapshot Config(uint64_t version) {
  v1::ConfigSnapshot config;
  config.set_version(version);
  return config;
}

class SnapshotStoreTest : public ::testing::Test {
 protected:
  SnapshotStoreTest() {
    options_.workers = 3;
    std::vector<Worker*> raw;
    for (int i = 0; i < options_.workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, options_, metrics_, recorder_));
      raw.push_back(workers_.back().get());
    }
    store_ = std::make_unique<SnapshotStore>(raw, metrics_, limits_, /*max_apps=*/1);
  }

  void StartWorkers() {
    for (auto& w : workers_) w->Start();
  }

  ProxyOptions options_;
  Metrics metrics_;
  AnswerRecorder recorder_;
  RateLimits limits_;
  std::vector<std::unique_ptr<Worker>> workers_;  // Stopped (joined) when destroyed.
  std::unique_ptr<SnapshotStore> store_;
};

TEST_F(SnapshotStoreTest, ServedOnlyOnceEveryWorkerHasSwappedIn) {
  StartWorkers();
  testing::WorkerHold hold(*workers_[1]);  // A worker busy in a long handler.
  ASSERT_TRUE(hold.held());

  absl::Notification served;
  ASSERT_TRUE(store_->Install(Config(7), [&served] { served.Notify(); }).ok());
  // The free workers have swapped it in (each probe runs after the swap on its worker)...
  EXPECT_EQ(testing::WorkerSnapshotVersion(*workers_[0]), 7u);
  EXPECT_EQ(testing::WorkerSnapshotVersion(*workers_[2]), 7u);
  // ... but the held one cannot have: the snapshot is not served yet.
  EXPECT_FALSE(served.HasBeenNotified()) << "served while a worker still ran the old snapshot";

  hold.Release();
  ASSERT_TRUE(served.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_EQ(testing::WorkerSnapshotVersion(*workers_[1]), 7u);
}

TEST_F(SnapshotStoreTest, AnInstallBeforeTheWorkersRunIsServedWhenTheyStart) {
  // The start-up installs (conf dir, cache) come before Server::Start.
  absl::Notification served;
  ASSERT_TRUE(store_->Install(Config(1), [&served] { served.Notify(); }).ok());
  EXPECT_FALSE(served.HasBeenNotified()) << "served by workers that do not run";
  StartWorkers();
  ASSERT_TRUE(served.WaitForNotificationWithTimeout(kDeadline));
  for (auto& w : workers_) EXPECT_EQ(testing::WorkerSnapshotVersion(*w), 1u);
}

TEST_F(SnapshotStoreTest, ARefusedSnapshotIsNeverServed) {
  StartWorkers();
  absl::Notification refused_served;
  v1::ConfigSnapshot too_many = Config(2);
  too_many.add_apps()->set_name("a");
  too_many.add_apps()->set_name("b");  // Over max_apps.
  EXPECT_FALSE(store_->Install(too_many, [&] { refused_served.Notify(); }).ok());

  // Installs complete in order: once the next one is served, the refused one never will be.
  absl::Notification served;
  ASSERT_TRUE(store_->Install(Config(3), [&served] { served.Notify(); }).ok());
  ASSERT_TRUE(served.WaitForNotificationWithTimeout(kDeadline));
  EXPECT_FALSE(refused_served.HasBeenNotified());
  for (auto& w : workers_) EXPECT_EQ(testing::WorkerSnapshotVersion(*w), 3u);
}

TEST_F(SnapshotStoreTest, InstallsAreServedInOrder) {
  StartWorkers();
  testing::WorkerHold hold(*workers_[0]);
  ASSERT_TRUE(hold.held());
  absl::Mutex mu;
  std::vector<uint64_t> order;
  absl::Notification last;
  for (uint64_t v : {4, 5, 6}) {
    ASSERT_TRUE(store_
                    ->Install(Config(v),
                              [&, v] {
                                absl::MutexLock lock(&mu);
                                order.push_back(v);
                                if (v == 6) last.Notify();
                              })
                    .ok());
  }
  hold.Release();
  ASSERT_TRUE(last.WaitForNotificationWithTimeout(kDeadline));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<uint64_t>{4, 5, 6}));
}

}  // namespace
}  // namespace valet
