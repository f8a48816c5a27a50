#include "dataplane/limits/rate_limits.h"

#include "absl/strings/str_cat.h"
#include "common/app_config_defaults.h"
#include "dataplane/limits/quota_broker.h"
#include "dataplane/metrics.h"

namespace valet {

std::shared_ptr<Budget> RateLimits::BudgetFor(std::shared_ptr<Budget>& slot, BudgetName name,
                                              uint32_t limit, std::chrono::seconds period) {
  if (slot && slot->period() == period) {
    slot->set_limit(limit);
  } else {
    slot = std::make_shared<Budget>(std::move(name), limit, period);
    if (broker_ != nullptr) broker_->Register(slot);
  }
  return slot;
}

std::shared_ptr<const AppLimits> RateLimits::Compile(const v1::AppConfig& app) {
  auto limits = std::make_shared<AppLimits>();
  absl::MutexLock lock(&mu_);
  if (app.rate_limit()) {
    limits->app = BudgetFor(app_budgets_[app.name()], BudgetName{app.name(), "", false},
                            app.limit_value(), std::chrono::seconds(LimitPeriodSecondsOf(app)));
  }
  for (const v1::Consumer& consumer : app.consumers()) {
    if (consumer.limit_value() == 0) continue;
    uint32_t period = consumer.limit_period_seconds() == 0 ? kDefaultLimitPeriodSeconds
                                                           : consumer.limit_period_seconds();
    limits->consumers.emplace(consumer.name(),
                              BudgetFor(consumer_budgets_[{app.name(), consumer.name()}],
                                        BudgetName{app.name(), consumer.name(), true},
                                        consumer.limit_value(), std::chrono::seconds(period)));
  }
  if (!limits->app && limits->consumers.empty()) return nullptr;
  std::shared_ptr<LimitCounters>& counters = counters_[app.name()];
  if (!counters) counters = std::make_shared<LimitCounters>();
  limits->counters = counters;
  limits->announce_before_auth = app.authorize();
  limits->broker = broker_;
  return limits;
}

std::vector<RateLimits::BudgetUsage> RateLimits::Usage(WallClock::time_point now) const {
  std::vector<BudgetUsage> usage;
  auto add = [&](const std::shared_ptr<Budget>& budget) {
    if (budget.use_count() <= 1) return;  // No snapshot holds it: the app or limit is gone.
    uint64_t window = WindowAt(now, budget->period()).index;
    usage.push_back({budget->name(), budget->limit(),
                     static_cast<uint32_t>(budget->period().count()), window,
                     budget->SpentIn(window), budget->RefusedAt(window)});
  };
  absl::MutexLock lock(&mu_);
  for (const auto& [app, budget] : app_budgets_) add(budget);
  for (const auto& [key, budget] : consumer_budgets_) add(budget);
  return usage;
}

std::string RateLimits::RenderPrometheus() const {
  std::string admitted =
      "# HELP valet_ratelimit_admitted_total Requests of a rate-limited app let through, by "
      "app.\n"
      "# TYPE valet_ratelimit_admitted_total counter\n";
  std::string refused =
      "# HELP valet_ratelimit_refused_total Requests of a rate-limited app refused (429), by "
      "app.\n"
      "# TYPE valet_ratelimit_refused_total counter\n";
  absl::MutexLock lock(&mu_);
  for (const auto& [app, counters] : counters_) {
    std::string label = PrometheusLabelValue(app);
    absl::StrAppend(&admitted, "valet_ratelimit_admitted_total{app=\"", label, "\"} ",
                    counters->admitted.load(std::memory_order_relaxed), "\n");
    absl::StrAppend(&refused, "valet_ratelimit_refused_total{app=\"", label, "\"} ",
                    counters->refused.load(std::memory_order_relaxed), "\n");
  }
  return admitted + refused + (broker_ != nullptr ? broker_->RenderPrometheus() : std::string());
}

}  // namespace valet
