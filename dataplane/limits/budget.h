// One rate-limit budget: `limit` requests per fixed wall-clock window of `period` (an app's, or
// a consumer's own), as one data plane spends it.
//
// Local mode (a standalone data plane): exact across every worker. The window and what was spent
// in it are one atomic word changed by compare-and-swap; no lock on the request path.
// Global mode (attached to a control plane): the request path spends from quota the control plane
// granted for the window (another atomic word), never asking per request; with none left it
// needs a grant (the stage waits for one, QuotaBroker asks). What this data plane spent is
// counted in the local word too, to report it and to carry it into fallback.
// Fallback mode (attached, but no control plane): as local, against a share of the limit.
//
// Budgets live outside the snapshot (RateLimits) so that they survive snapshot swaps; the limit
// may change while requests spend (a changed config applies to the current window at once), the
// period may not (another period is another budget). Thread-safe.
#ifndef VALET_DATAPLANE_LIMITS_BUDGET_H_
#define VALET_DATAPLANE_LIMITS_BUDGET_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/fixed_window.h"

namespace valet {

// What a budget looked like at one moment of one window.
struct BudgetState {
  uint32_t limit = 0;
  uint32_t used = 0;  // In this window, the request just admitted included; may exceed a
                      // limit lowered meanwhile. In global mode, the cluster's (approximate).
  std::chrono::seconds period{0};
  std::chrono::seconds reset{0};  // To the window's end.
  uint64_t window = 0;

  uint32_t remaining() const { return used < limit ? limit - used : 0; }
};

// Which budget, as the attach stream names it.
struct BudgetName {
  std::string app;
  std::string consumer;
  bool for_consumer = false;
};

enum class LimitMode { kLocal = 0, kGlobal = 1, kFallback = 2 };

// Milliseconds on the steady clock: when to ask again, how long quota sat idle.
inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Budget {
 public:
  Budget(BudgetName name, uint32_t limit, std::chrono::seconds period)
      : name_(std::move(name)), limit_(limit), period_(period) {}
  Budget(uint32_t limit, std::chrono::seconds period) : Budget(BudgetName(), limit, period) {}
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

  const BudgetName& name() const { return name_; }
  std::chrono::seconds period() const { return period_; }
  uint32_t limit() const { return limit_.load(std::memory_order_relaxed); }
  void set_limit(uint32_t limit) { limit_.store(limit, std::memory_order_relaxed); }

  enum class Outcome { kAdmitted, kRefused, kNeedGrant };
  struct Spend {
    Outcome outcome = Outcome::kRefused;
    BudgetState state;
    bool admitted() const { return outcome == Outcome::kAdmitted; }
  };

  // Spends one request from the window `now` falls in, exactly against the limit (local mode).
  Spend TrySpend(WallClock::time_point now) { return TrySpendUpTo(now, limit()); }
  // The same against `cap` instead of the limit (fallback mode: the share of this data plane).
  Spend TrySpendUpTo(WallClock::time_point now, uint32_t cap);
  // Spends one request of granted quota (global mode); kNeedGrant when none is left and the
  // window is not known to be spent cluster-wide (or it was, but long enough ago to ask again:
  // another data plane may have given quota back).
  Spend TrySpendGranted(WallClock::time_point now);

  // Gives back one request spent in `window` (a later budget of the same request refused it).
  // Nothing happens if that window is over. `granted`: it was spent from granted quota.
  void Refund(uint64_t window, bool granted = false);

  // The state at `now` without spending (local: this process; global: the cluster's estimate).
  BudgetState Peek(WallClock::time_point now, bool global = false) const;

  // What this data plane spent in `window` (any mode).
  uint32_t SpentIn(uint64_t window) const;

  // Counts a request this budget refused in `window`; RefusedAt tells the counts of `window` and
  // of the one before it (what GetLimits shows, through the data planes' status reports).
  void CountRefusal(uint64_t window);
  struct Refusals {
    uint32_t this_window = 0;
    uint32_t last_window = 0;
  };
  Refusals RefusedAt(uint64_t window) const;

  // Quota granted for `window`; `window_granted`: the cluster's total granted so far. A grant of
  // 0 marks the window spent cluster-wide: requests are refused without asking until
  // `ask_again_at_ms` (SteadyNowMs), then the next one asks again. A grant for any window but the
  // current one (by this clock) is dropped. Then wakes the waiters.
  void AddGrant(uint64_t window, uint32_t granted, uint64_t window_granted,
                int64_t ask_again_at_ms = INT64_MAX);
  // Drops granted quota and the spent mark (the control plane is gone, or a new one attached).
  void ForgetGrants();
  // Granted requests not yet spent in `window`, and the size of the last grant.
  uint32_t TokensLeft(uint64_t window) const;
  uint32_t LastGrant() const { return last_grant_.load(std::memory_order_relaxed); }
  // Takes the granted quota of `window` that sat idle: nothing was spent from it and nothing
  // granted since the previous call. Returns how much was taken (to give back to the control
  // plane); a request racing it either spends a token or finds it gone, never both. Called by
  // one thread at a time, at a steady interval (the idle time).
  uint32_t TakeIdleTokens(uint64_t window);

  // Waiting for a grant: `wake` runs once, on the thread that adds the next grant (or calls
  // WakeAll); it must not block (post to the waiter's own thread).
  void AddWaiter(std::function<void()> wake);
  void WakeAll();

  // At most one quota request unanswered at a time; an unanswered one is asked again after
  // `retry_after_ms` (a control plane that never answered).
  bool StartAsking(int64_t now_ms, int64_t retry_after_ms);
  // A hint for the size of the next request: what was spent since the last one, doubled.
  uint32_t NextWant();

 private:
  static uint64_t Pack(uint64_t window, uint32_t count) {
    return (window << 32) | static_cast<uint64_t>(count);
  }
  static uint32_t WindowOf(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
  static uint32_t CountOf(uint64_t word) { return static_cast<uint32_t>(word); }
  // Counts one spend in the local word, without a cap.
  void CountSpend(uint32_t window);
  BudgetState StateAt(const WindowPosition& at) const;

  const BudgetName name_;
  std::atomic<uint32_t> limit_;
  const std::chrono::seconds period_;
  // Each word: high 32 bits the window index (mod 2^32, enough for one-second windows until
  // 2106), low 32 bits a count in that window.
  std::atomic<uint64_t> spent_{0};            // Spent by this data plane.
  std::atomic<uint64_t> tokens_{0};           // Granted and not yet spent (global mode).
  std::atomic<uint64_t> cluster_granted_{0};  // The cluster's total granted (global mode).
  std::atomic<uint64_t> exhausted_{0};        // Window + 1 known spent cluster-wide; 0: none.
  std::atomic<int64_t> ask_again_at_ms_{0};   // Then, after this, requests ask again.
  // What TakeIdleTokens saw last: spent_ and tokens_ unchanged since mean idle.
  std::atomic<uint64_t> swept_spent_{0};
  std::atomic<uint64_t> swept_tokens_{0};
  std::atomic<bool> asking_{false};
  std::atomic<int64_t> asked_at_ms_{0};
  std::atomic<uint32_t> spent_since_ask_{0};
  std::atomic<uint32_t> last_grant_{0};
  std::atomic<uint64_t> refused_{0};         // Refused in a window.
  std::atomic<uint64_t> refused_before_{0};  // Refused in the window before refused_'s.

  absl::Mutex waiters_mu_;
  std::vector<std::function<void()>> waiters_ ABSL_GUARDED_BY(waiters_mu_);
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_BUDGET_H_
