// SendQueue: what one end of the attach stream has to send, with at most one write in flight.
//
// Two kinds of message share the queue:
//   - "latest" messages (config snapshots) coalesce: a new one replaces the one still waiting, in
//     its place in the queue, so a slow peer gets the newest only;
//   - "ordered" messages (status reports today; quota grants, usage reports and stats next) are
//     delivered in the order they were pushed and never dropped.
// The queue is bounded: at most `max_ordered` ordered messages wait (plus one latest message). A
// push past the bound is refused (PushOrdered returns false) and nothing is queued: the caller
// closes the stream with a log line rather than growing memory without bound (a peer that does not
// drain its stream is stuck or too slow; it attaches again and starts from a fresh snapshot).
//
// Messages are held by shared_ptr<const>: a snapshot built once is shared by every stream and
// stays alive while its write is in flight (Next() returns it, WriteDone() releases it).
//
// Threading: not synchronised. Each user holds its own mutex around every call (a gRPC reactor's
// reactions and the publisher's thread, or a data plane's reader, timer and writer threads).
#ifndef VALET_COMMON_SEND_QUEUE_H_
#define VALET_COMMON_SEND_QUEUE_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace valet {

template <typename Message>
class SendQueue {
 public:
  using Ptr = std::shared_ptr<const Message>;

  // The default bound of each end of the attach stream.
  static constexpr size_t kDefaultMaxOrdered = 1024;

  explicit SendQueue(size_t max_ordered = kDefaultMaxOrdered) : max_ordered_(max_ordered) {}

  // Queues `message` in place of the latest message still waiting (none is sent twice), or at the
  // end if none waits. Never refused.
  void PushLatest(Ptr message) {
    for (Entry& e : waiting_) {
      if (e.latest) {
        e.message = std::move(message);
        return;
      }
    }
    waiting_.push_back(Entry{std::move(message), true});
  }

  // Queues `message` at the end. False (and nothing queued) if `max_ordered` ordered messages wait.
  bool PushOrdered(Ptr message) {
    if (ordered_waiting_ >= max_ordered_) return false;
    waiting_.push_back(Entry{std::move(message), false});
    ++ordered_waiting_;
    return true;
  }

  // The message to write now, or null if a write is in flight or nothing waits. The caller starts
  // the write and calls WriteDone when it completes; the queue holds the message until then.
  const Message* Next() {
    if (in_flight_ != nullptr || waiting_.empty()) return nullptr;
    Entry e = std::move(waiting_.front());
    waiting_.pop_front();
    if (!e.latest) --ordered_waiting_;
    in_flight_ = std::move(e.message);
    return in_flight_.get();
  }

  // The write Next() returned has completed (successfully or not).
  void WriteDone() { in_flight_.reset(); }

  bool writing() const { return in_flight_ != nullptr; }
  bool empty() const { return waiting_.empty(); }
  size_t waiting() const { return waiting_.size(); }
  size_t max_ordered() const { return max_ordered_; }

  // Drops every waiting message (the stream ended). A write in flight stays held until WriteDone.
  void Clear() {
    waiting_.clear();
    ordered_waiting_ = 0;
  }

 private:
  struct Entry {
    Ptr message;
    bool latest;
  };

  const size_t max_ordered_;
  std::deque<Entry> waiting_;
  size_t ordered_waiting_ = 0;
  Ptr in_flight_;
};

}  // namespace valet

#endif  // VALET_COMMON_SEND_QUEUE_H_
