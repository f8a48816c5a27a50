// The data plane's side of global rate limits, between its budgets and the attach stream.
//
// Attached (global mode): budgets spend quota the control plane granted; a budget that runs low
// (or has a request waiting) asks for more with a QuotaRequest, one at a time, and the grant that
// answers it wakes its waiters. On every (re)attach the broker reports what each budget spent in
// its current window (UsageReport), so a restarted control plane continues the window.
// Quota that sits unspent for `idle` (no request spent from it, no grant added) flows back to the
// control plane (QuotaReturn, from Sweep) so that busier data planes may spend it in the same
// window; a budget told that its window is spent asks again after `idle`, to find such quota.
// Detached (fallback mode): each budget is enforced locally against max(1, limit / N), N the
// number of data planes the last grant named (1 before any); said once in the log per outage and
// in /metrics (valet_ratelimit_mode).
//
// Threading: the request path calls mode(), Ask() and share() from workers (atomics, and a send
// only when a budget asks); OnAttached/OnDetached/OnGrant come from the control client's thread.
// Lifetime: outlives every snapshot (it is held by RateLimits' owner with the budgets).
#ifndef VALET_DATAPLANE_LIMITS_QUOTA_BROKER_H_
#define VALET_DATAPLANE_LIMITS_QUOTA_BROKER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/limits/budget.h"
#include "valet/v1/attach.pb.h"

namespace valet {

class QuotaBroker {
 public:
  // Queues a message on the attach stream; false when no stream is up.
  using SendFn = std::function<bool(v1::DataPlaneMessage)>;

  static constexpr std::chrono::milliseconds kDefaultIdle{500};

  // `wait`: how long a request waits for a grant before it gets 429 (--quota-wait-ms); `idle`:
  // how long granted quota sits unspent before it goes back (--quota-idle-ms).
  QuotaBroker(SendFn send, std::chrono::milliseconds wait,
              std::chrono::milliseconds idle = kDefaultIdle)
      : send_(std::move(send)), wait_(wait), idle_(idle) {}

  LimitMode mode() const { return static_cast<LimitMode>(mode_.load(std::memory_order_acquire)); }
  std::chrono::milliseconds wait() const { return wait_; }
  std::chrono::milliseconds idle() const { return idle_; }
  uint32_t data_planes() const { return data_planes_.load(std::memory_order_relaxed); }
  // This data plane's share of `limit` in fallback mode.
  uint32_t share(uint32_t limit) const;

  // Budgets the broker reports and grants to (RateLimits registers each it hands out).
  void Register(const std::shared_ptr<Budget>& budget);

  // Asks for quota of `budget` in `window` unless a request is already unanswered.
  void Ask(Budget& budget, uint64_t window);
  // Asks ahead when `budget` has few granted requests left after a spend (not once grants are
  // down to one request). Cheap when it has.
  void MaybeAskAhead(Budget& budget, const BudgetState& state);

  // Gives back the quota of every budget that sat idle since the last call (global mode only).
  // Call every idle() from one thread while attached (the control client's sender does).
  void Sweep();

  // From the control client.
  void OnAttached();
  void OnDetached();
  void OnGrant(const v1::QuotaGrant& grant);

  // valet_ratelimit_mode{mode} (Prometheus text).
  std::string RenderPrometheus() const;

 private:
  using Key = std::tuple<std::string, bool, std::string, uint32_t>;
  static Key KeyOf(const BudgetName& name, uint32_t period_seconds);
  std::vector<std::shared_ptr<Budget>> LiveBudgets();

  const SendFn send_;
  const std::chrono::milliseconds wait_;
  const std::chrono::milliseconds idle_;
  // Not attached yet: fallback with N = 1 (the whole limit here) until the first attach.
  std::atomic<int> mode_{static_cast<int>(LimitMode::kFallback)};
  std::atomic<uint32_t> data_planes_{1};
  std::atomic<bool> was_global_{false};

  absl::Mutex mu_;
  std::map<Key, std::weak_ptr<Budget>> budgets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_QUOTA_BROKER_H_
