#include "common/send_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace valet {
namespace {

using Queue = SendQueue<std::string>;

Queue::Ptr Msg(const std::string& s) { return std::make_shared<const std::string>(s); }

// Writes (Next + WriteDone) until the queue is empty; bounded by `max`.
std::vector<std::string> Drain(Queue& q, int max = 10000) {
  std::vector<std::string> out;
  for (int i = 0; i < max; ++i) {
    const std::string* next = q.Next();
    if (next == nullptr) break;
    out.push_back(*next);
    q.WriteDone();
  }
  return out;
}

TEST(SendQueueTest, OrderedMessagesKeepTheirOrder) {
  Queue q;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.PushOrdered(Msg(std::to_string(i))));
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
  EXPECT_TRUE(q.empty());
}

TEST(SendQueueTest, LatestMessagesCoalesceInPlace) {
  Queue q;
  q.PushLatest(Msg("snap1"));
  ASSERT_TRUE(q.PushOrdered(Msg("a")));
  q.PushLatest(Msg("snap2"));  // Replaces snap1, before "a".
  ASSERT_TRUE(q.PushOrdered(Msg("b")));
  q.PushLatest(Msg("snap3"));
  EXPECT_EQ(q.waiting(), 3u);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"snap3", "a", "b"}));
}

TEST(SendQueueTest, OneWriteInFlight) {
  Queue q;
  q.PushLatest(Msg("snap1"));
  const std::string* first = q.Next();
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(q.writing());
  q.PushLatest(Msg("snap2"));  // The one in flight is not replaced: it is being written.
  ASSERT_TRUE(q.PushOrdered(Msg("a")));
  EXPECT_EQ(q.Next(), nullptr) << "a second write while one is in flight";
  EXPECT_EQ(*first, "snap1");  // Still held by the queue while in flight.
  q.WriteDone();
  EXPECT_FALSE(q.writing());
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"snap2", "a"}));
}

TEST(SendQueueTest, OrderedMessagesAreBoundedAndNeverDropped) {
  Queue q(3);
  q.PushLatest(Msg("snap"));  // Latest messages do not count against the bound.
  EXPECT_TRUE(q.PushOrdered(Msg("1")));
  EXPECT_TRUE(q.PushOrdered(Msg("2")));
  EXPECT_TRUE(q.PushOrdered(Msg("3")));
  EXPECT_FALSE(q.PushOrdered(Msg("4"))) << "past the bound";
  q.PushLatest(Msg("snap2"));  // Still accepted: it replaces the waiting one.
  EXPECT_EQ(q.waiting(), 4u);
  // One written frees one place.
  ASSERT_NE(q.Next(), nullptr);  // snap2.
  q.WriteDone();
  EXPECT_FALSE(q.PushOrdered(Msg("4")));
  ASSERT_NE(q.Next(), nullptr);  // "1".
  EXPECT_TRUE(q.PushOrdered(Msg("4"))) << "the in-flight message no longer waits";
  q.WriteDone();
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"2", "3", "4"}));
}

TEST(SendQueueTest, ClearDropsWaitingMessagesButKeepsTheWriteInFlight) {
  Queue q(2);
  ASSERT_TRUE(q.PushOrdered(Msg("1")));
  ASSERT_TRUE(q.PushOrdered(Msg("2")));
  const std::string* in_flight = q.Next();
  ASSERT_NE(in_flight, nullptr);
  q.Clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(*in_flight, "1");
  EXPECT_TRUE(q.PushOrdered(Msg("3")));
  EXPECT_TRUE(q.PushOrdered(Msg("4")));
  q.WriteDone();
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"3", "4"}));
}

TEST(SendQueueTest, SharedMessagesAreNotCopied) {
  Queue a, b;
  Queue::Ptr snap = Msg("snap");
  a.PushLatest(snap);
  b.PushLatest(snap);
  EXPECT_EQ(a.Next(), snap.get());
  EXPECT_EQ(b.Next(), snap.get());
  EXPECT_EQ(snap.use_count(), 3);
  a.WriteDone();
  b.WriteDone();
  EXPECT_EQ(snap.use_count(), 1);
}

}  // namespace
}  // namespace valet
