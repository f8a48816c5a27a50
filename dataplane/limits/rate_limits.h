// The rate-limit state of a data plane, outside any snapshot (like Metrics' per-app stats):
// budgets keyed by app and by (app, consumer), and each limited app's counters. Compile hands a
// snapshot the budgets its apps spend from: a budget whose period is unchanged is kept across
// swaps (what was spent in the current window stays spent) and takes the new limit at once; a
// new period starts a new budget. Thread-safe; the request path never touches the registry
// itself, only the budgets and counters it handed out.
#ifndef VALET_DATAPLANE_LIMITS_RATE_LIMITS_H_
#define VALET_DATAPLANE_LIMITS_RATE_LIMITS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/limits/app_limits.h"
#include "dataplane/limits/budget.h"
#include "valet/v1/config.pb.h"

namespace valet {

class RateLimits {
 public:
  // The limits of `app` (validated), or null if it has none: neither rateLimit nor a consumer
  // with a limit of its own.
  std::shared_ptr<const AppLimits> Compile(const v1::AppConfig& app);

  // valet_ratelimit_admitted_total and valet_ratelimit_refused_total by app (Prometheus text).
  std::string RenderPrometheus() const;

  // Every budget in use (by a snapshot) at its window of `now`: what status reports carry.
  struct BudgetUsage {
    BudgetName name;
    uint32_t limit = 0;
    uint32_t period_seconds = 0;
    uint64_t window = 0;
    uint32_t spent = 0;
    Budget::Refusals refused;
  };
  std::vector<BudgetUsage> Usage(WallClock::time_point now) const;

  // Attached data planes: budgets compiled from now on spend in the broker's mode. Set before
  // the first snapshot compiles; the broker outlives this.
  void set_broker(QuotaBroker* broker) { broker_ = broker; }

 private:
  std::shared_ptr<Budget> BudgetFor(std::shared_ptr<Budget>& slot, BudgetName name, uint32_t limit,
                                    std::chrono::seconds period);

  QuotaBroker* broker_ = nullptr;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Budget>> app_budgets_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Budget>> consumer_budgets_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<LimitCounters>> counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_RATE_LIMITS_H_
