#include "controlplane/quota/quota_ledger.h"

#include <algorithm>

namespace valet {

void QuotaLedger::Attached(const std::string& data_plane) {
  absl::MutexLock lock(&mu_);
  ++attached_[data_plane];
}

void QuotaLedger::Detached(const std::string& data_plane) {
  absl::MutexLock lock(&mu_);
  auto it = attached_.find(data_plane);
  if (it != attached_.end() && --it->second <= 0) attached_.erase(it);
}

QuotaLedger::Key QuotaLedger::KeyOf(const v1::BudgetKey& budget) {
  return {budget.app(), budget.for_consumer(), budget.consumer(), budget.period_seconds()};
}

QuotaLedger::Window* QuotaLedger::WindowFor(const v1::BudgetKey& budget, uint64_t index) {
  Window& window = windows_[KeyOf(budget)];
  if (window.index > index) return nullptr;
  if (window.index < index) window = Window{index, budget.limit(), 0, {}};
  window.limit = budget.limit();  // The newest config a data plane names applies.
  return &window;
}

v1::QuotaGrant QuotaLedger::Grant(const std::string& data_plane, const v1::QuotaRequest& request) {
  v1::QuotaGrant grant;
  *grant.mutable_budget() = request.budget();
  grant.set_window(request.window());
  absl::MutexLock lock(&mu_);
  const uint64_t planes = std::max<uint64_t>(1, attached_.size());
  grant.set_data_planes(static_cast<uint32_t>(planes));
  Window* window = WindowFor(request.budget(), request.window());
  if (window == nullptr) return grant;  // A window that is over: nothing to spend in it.
  uint64_t left = window->granted < window->limit ? window->limit - window->granted : 0;
  uint64_t chunk = std::max<uint64_t>(1, left / (2 * planes));
  uint64_t granted = std::min<uint64_t>({std::max<uint32_t>(1, request.want()), left, chunk});
  window->by_data_plane[data_plane] += granted;
  window->granted += granted;
  grant.set_granted(static_cast<uint32_t>(granted));
  grant.set_window_granted(window->granted);
  return grant;
}

void QuotaLedger::Report(const std::string& data_plane, const v1::UsageReport& report) {
  absl::MutexLock lock(&mu_);
  for (const v1::UsageReport::Usage& usage : report.usage()) {
    Window* window = WindowFor(usage.budget(), usage.window());
    if (window == nullptr) continue;
    uint64_t& counted = window->by_data_plane[data_plane];
    if (usage.spent() > counted) {
      window->granted += usage.spent() - counted;
      counted = usage.spent();
    }
  }
}

void QuotaLedger::Return(const std::string& data_plane, const v1::QuotaReturn& given_back) {
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(KeyOf(given_back.budget()));
  if (it == windows_.end() || it->second.index != given_back.window()) return;
  Window& window = it->second;
  auto held = window.by_data_plane.find(data_plane);
  if (held == window.by_data_plane.end()) return;
  uint64_t returned = std::min<uint64_t>(given_back.returned(), held->second);
  held->second -= returned;
  window.granted -= returned;
}

void QuotaLedger::ReportedStatus(const std::string& data_plane, const v1::StatusReport& report) {
  absl::MutexLock lock(&mu_);
  for (const v1::UsageReport::Usage& usage : report.limits()) {
    refusals_[KeyOf(usage.budget())][data_plane] = {usage.window(), usage.refused(),
                                                    usage.refused_last_window()};
  }
}

QuotaLedger::Usage QuotaLedger::Query(const v1::BudgetKey& budget, uint64_t window) const {
  Usage usage;
  absl::MutexLock lock(&mu_);
  Key key = KeyOf(budget);
  if (auto it = windows_.find(key); it != windows_.end() && it->second.index == window) {
    usage.used = it->second.granted;
  }
  if (auto it = refusals_.find(key); it != refusals_.end()) {
    for (const auto& [data_plane, r] : it->second) {
      if (r.window == window) {
        usage.refused += r.refused;
        usage.refused_last_window += r.refused_last_window;
      } else if (r.window + 1 == window) {
        usage.refused_last_window += r.refused;
      }
    }
  }
  return usage;
}

bool QuotaLedger::Find(const v1::BudgetKey& budget, WindowState* state) const {
  absl::MutexLock lock(&mu_);
  auto it = windows_.find(KeyOf(budget));
  if (it == windows_.end()) return false;
  *state = {it->second.index, it->second.limit, it->second.granted};
  return true;
}

}  // namespace valet
