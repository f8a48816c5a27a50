// The compiled rate limits of one app, as its snapshot holds them: the budgets it spends from
// (owned by RateLimits, outside the snapshot) and its counters. Immutable once compiled; the
// budgets and counters it points to are thread-safe.
#ifndef VALET_DATAPLANE_LIMITS_APP_LIMITS_H_
#define VALET_DATAPLANE_LIMITS_APP_LIMITS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "dataplane/limits/budget.h"

namespace valet {

class QuotaBroker;  // limits/quota_broker.h (kept out of the snapshot's headers: it names protos).

// Requests of an app the limiter let through or refused (valet_ratelimit_*_total). Relaxed
// atomics: counted on the request path without a lock.
struct LimitCounters {
  std::atomic<uint64_t> admitted{0};
  std::atomic<uint64_t> refused{0};
};

struct AppLimits {
  std::shared_ptr<Budget> app;  // Null when only consumers have budgets (rateLimit false).
  // Consumers with a limit of their own, by name (exchange.consumer->name).
  absl::flat_hash_map<std::string, std::shared_ptr<Budget>> consumers;
  std::shared_ptr<LimitCounters> counters;
  // Attached to a control plane: the global mode's grants (null: standalone, local mode).
  QuotaBroker* broker = nullptr;
  // The app also checks keys: its answers before the spend (401) carry the app budget's state.
  bool announce_before_auth = false;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_APP_LIMITS_H_
