#include "dataplane/limits/quota_broker.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace valet {
namespace {

// An unanswered quota request is asked again after this (its stream went away meanwhile).
constexpr int64_t kAskAgainMs = 1000;

void FillKey(const Budget& budget, v1::BudgetKey* key) {
  key->set_app(budget.name().app);
  key->set_consumer(budget.name().consumer);
  key->set_for_consumer(budget.name().for_consumer);
  key->set_limit(budget.limit());
  key->set_period_seconds(static_cast<uint32_t>(budget.period().count()));
}

}  // namespace

uint32_t QuotaBroker::share(uint32_t limit) const {
  return std::max<uint32_t>(1, limit / std::max<uint32_t>(1, data_planes()));
}

QuotaBroker::Key QuotaBroker::KeyOf(const BudgetName& name, uint32_t period_seconds) {
  return {name.app, name.for_consumer, name.consumer, period_seconds};
}

void QuotaBroker::Register(const std::shared_ptr<Budget>& budget) {
  absl::MutexLock lock(&mu_);
  budgets_[KeyOf(budget->name(), static_cast<uint32_t>(budget->period().count()))] = budget;
}

std::vector<std::shared_ptr<Budget>> QuotaBroker::LiveBudgets() {
  std::vector<std::shared_ptr<Budget>> live;
  absl::MutexLock lock(&mu_);
  for (auto it = budgets_.begin(); it != budgets_.end();) {
    if (auto budget = it->second.lock()) {
      live.push_back(std::move(budget));
      ++it;
    } else {
      it = budgets_.erase(it);
    }
  }
  return live;
}

void QuotaBroker::Ask(Budget& budget, uint64_t window) {
  if (!budget.StartAsking(SteadyNowMs(), kAskAgainMs)) return;
  v1::DataPlaneMessage message;
  v1::QuotaRequest* request = message.mutable_quota_request();
  FillKey(budget, request->mutable_budget());
  request->set_window(window);
  request->set_want(budget.NextWant());
  // Not sent: the stream is going away. The waiters try again (each on its own worker) until
  // OnDetached, which follows at once, puts them in fallback mode.
  if (!send_(std::move(message))) {
    budget.ForgetGrants();
    budget.WakeAll();
  }
}

void QuotaBroker::MaybeAskAhead(Budget& budget, const BudgetState& state) {
  // A quarter of the last grant left: ask before the quota is gone, so that requests rarely
  // wait. Not once grants are down to one request (near the limit): quota asked ahead could be
  // stranded here while other data planes' requests are refused; each request that needs one
  // asks then.
  if (budget.LastGrant() <= 1) return;
  if (budget.TokensLeft(state.window) * 4 > std::max<uint32_t>(1, budget.LastGrant())) return;
  Ask(budget, state.window);
}

void QuotaBroker::Sweep() {
  if (mode() != LimitMode::kGlobal) return;
  const WallClock::time_point now = WallClock::now();
  for (const auto& budget : LiveBudgets()) {
    uint64_t window = WindowAt(now, budget->period()).index;
    uint32_t idle = budget->TakeIdleTokens(window);
    if (idle == 0) continue;
    v1::DataPlaneMessage message;
    v1::QuotaReturn* given_back = message.mutable_quota_return();
    FillKey(*budget, given_back->mutable_budget());
    given_back->set_window(window);
    given_back->set_returned(idle);
    // Not sent: the stream is going away, and the next control plane starts from what was spent.
    send_(std::move(message));
  }
}

void QuotaBroker::OnAttached() {
  std::vector<std::shared_ptr<Budget>> budgets = LiveBudgets();
  v1::DataPlaneMessage message;
  v1::UsageReport* report = message.mutable_usage_report();
  const WallClock::time_point now = WallClock::now();
  for (const auto& budget : budgets) {
    budget->ForgetGrants();
    uint64_t window = WindowAt(now, budget->period()).index;
    uint32_t spent = budget->SpentIn(window);
    if (spent == 0) continue;
    v1::UsageReport::Usage* usage = report->add_usage();
    FillKey(*budget, usage->mutable_budget());
    usage->set_window(window);
    usage->set_spent(spent);
  }
  // Reported before any quota request of this stream: the stream keeps the order.
  if (report->usage_size() > 0) send_(std::move(message));
  mode_.store(static_cast<int>(LimitMode::kGlobal), std::memory_order_release);
  if (was_global_.exchange(true)) {
    VALET_LOG(INFO) << "rate limits: attached again, global mode (spending of the current "
                       "windows reported)";
  }
  for (const auto& budget : budgets) budget->WakeAll();
}

void QuotaBroker::OnDetached() {
  mode_.store(static_cast<int>(LimitMode::kFallback), std::memory_order_release);
  std::vector<std::shared_ptr<Budget>> budgets = LiveBudgets();
  for (const auto& budget : budgets) budget->ForgetGrants();
  if (was_global_.load()) {
    VALET_LOG(WARNING) << "rate limits: no control plane; each budget is enforced here as a "
                          "fallback share of limit / "
                       << data_planes() << " until a control plane attaches";
  }
  // Waiters spend in fallback mode now instead of waiting for a grant that will not come.
  for (const auto& budget : budgets) budget->WakeAll();
}

void QuotaBroker::OnGrant(const v1::QuotaGrant& grant) {
  if (grant.data_planes() > 0) data_planes_.store(grant.data_planes(), std::memory_order_relaxed);
  std::shared_ptr<Budget> budget;
  {
    absl::MutexLock lock(&mu_);
    BudgetName name{grant.budget().app(), grant.budget().consumer(), grant.budget().for_consumer()};
    auto it = budgets_.find(KeyOf(name, grant.budget().period_seconds()));
    if (it != budgets_.end()) budget = it->second.lock();
  }
  if (budget == nullptr) return;  // The app (or its limit) is gone.
  budget->AddGrant(grant.window(), grant.granted(), grant.window_granted(),
                   SteadyNowMs() + idle_.count());
}

std::string QuotaBroker::RenderPrometheus() const {
  LimitMode m = mode();
  return absl::StrCat(
      "# HELP valet_ratelimit_mode How rate limits are enforced: global (quota from the control "
      "plane) or fallback (a local share, no control plane).\n"
      "# TYPE valet_ratelimit_mode gauge\n",
      "valet_ratelimit_mode{mode=\"global\"} ", m == LimitMode::kGlobal ? 1 : 0, "\n",
      "valet_ratelimit_mode{mode=\"fallback\"} ", m == LimitMode::kFallback ? 1 : 0, "\n");
}

}  // namespace valet
