// The data planes attached to this control plane: who they are, what they serve, what they refused.
//
// One entry per stream origin: data plane id and peer address. The attach stream reports Hello
// (Connected), Ack, Nack and the end of the stream (Disconnected) with the token Connected
// returned. A stream from the same id and peer takes over that entry (the old stream's late reports
// are ignored). When an id attaches, its disconnected entries are replaced by the new one; if
// another stream with the same id is still connected (two data planes given the same --id, or a
// stream not yet known dead), a warning is logged and both stay listed, each counted by
// WaitForVersion; when one of them ends while another is attached, the ended one leaves the list
// at once. A NACK is carried over to the new entry only while the version it now serves is
// older than the refused one. Disconnected data planes stay listed (connected = false) for
// `keep_disconnected` (5 minutes by default), then are dropped.
//
// Reported keeps the last StatusReport of a stream (DataPlaneStatus.last_report, with the time it
// arrived; List fills in its age) and counts the reports; a new stream starts with none.
//
// WaitForVersion backs `valetctl apply --wait`: it answers once every connected data plane has
// ACKed `version` (or a later one) or NACKed it, or when the deadline passes.
//
// Threading: every method is thread-safe and never blocks on I/O. Wait callbacks run without the
// registry's lock held, on the thread whose report completed them or on the registry's timer
// thread; they must not block. Shutdown (and destruction) answers every pending wait (as timed
// out, complete = false) and answers later waits at once; the destructor joins the timer thread.
#ifndef VALET_CONTROLPLANE_DATAPLANE_REGISTRY_H_
#define VALET_CONTROLPLANE_DATAPLANE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "valet/v1/control.pb.h"

namespace valet {

class DataplaneRegistry {
 public:
  using WaitDone = std::function<void(v1::WaitForVersionResponse)>;

  explicit DataplaneRegistry(absl::Duration keep_disconnected = absl::Minutes(5));
  ~DataplaneRegistry();
  DataplaneRegistry(const DataplaneRegistry&) = delete;
  DataplaneRegistry& operator=(const DataplaneRegistry&) = delete;

  // A Hello: `version` is what the data plane serves now (counts as ACKed). Returns a token for
  // the other reports of this stream.
  uint64_t Connected(const std::string& id, const std::string& address, const std::string& peer,
                     uint64_t version);
  void Acked(uint64_t token, uint64_t version);
  void Nacked(uint64_t token, uint64_t version, const std::string& reason);
  void Reported(uint64_t token, const v1::StatusReport& report);
  void Disconnected(uint64_t token);

  // Every known data plane, sorted by id.
  std::vector<v1::DataPlaneStatus> List() const;

  // Calls `done` exactly once: when no connected data plane is pending on `version`, or at
  // `deadline` (complete = false), or at Shutdown — unless CancelWait removes it first. May call it
  // before returning (then returns 0); else returns an id for CancelWait.
  uint64_t WaitForVersion(uint64_t version, absl::Time deadline, WaitDone done);
  // Removes a pending wait without calling its `done`. False if it is not pending (already
  // answered or being answered: its `done` runs or has run).
  bool CancelWait(uint64_t wait_id);
  size_t pending_waits() const;

  // Answers every pending wait now; later waits are answered at once. Idempotent.
  void Shutdown();

 private:
  struct Entry {
    v1::DataPlaneStatus status;
    uint64_t token = 0;
    absl::Time disconnected_at;
  };
  struct Waiter {
    uint64_t id;
    uint64_t version;
    absl::Time deadline;
    WaitDone done;
  };
  struct Ready {
    WaitDone done;
    v1::WaitForVersionResponse response;
  };

  // Fills a response for `version`; true when nothing is pending.
  bool EvaluateLocked(uint64_t version, v1::WaitForVersionResponse* response) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the waiters that are complete (or past their deadline, at `now`).
  std::vector<Ready> CollectLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Entry* FindLocked(uint64_t token) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the ready callbacks; call without mu_.
  static void Run(std::vector<Ready> ready);
  void TimerLoop();

  const absl::Duration keep_disconnected_;
  mutable absl::Mutex mu_;
  using Key = std::pair<std::string, std::string>;  // Data plane id, peer.
  std::map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_wait_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Shutdown: waits are answered at once.
  bool exiting_ ABSL_GUARDED_BY(mu_) = false;   // Destructor: the timer thread ends.
  absl::CondVar timer_cv_;                      // Signalled when a waiter is added or on stop.
  std::thread timer_;
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_DATAPLANE_REGISTRY_H_
