#include "dataplane/balancer.h"

#include <algorithm>

namespace valet {

EndpointState& Balancer::StateOf(const EndpointSpec& endpoint) { return states_[endpoint.key]; }

void Balancer::Retain(const absl::flat_hash_set<std::string>& keys) {
  absl::erase_if(states_, [&](const auto& entry) {
    return entry.second.outstanding == 0 && !keys.contains(entry.first);
  });
  for (auto& [app, current] : rr_current_) {
    absl::erase_if(current, [&](const auto& entry) { return !keys.contains(entry.first); });
  }
}

bool Balancer::Usable(const EndpointSpec& ep, size_t index, const Tried& tried,
                      Clock::time_point now) {
  if (std::find(tried.begin(), tried.end(), index) != tried.end()) return false;
  return StateOf(ep).ejected_until <= now;
}

std::optional<size_t> Balancer::Pick(const AppRoute& app, const Tried& tried,
                                     Clock::time_point now) {
  const auto& eps = app.endpoints;
  absl::InlinedVector<size_t, 8> usable;
  for (size_t i = 0; i < eps.size(); ++i) {
    if (Usable(eps[i], i, tried, now)) usable.push_back(i);
  }
  if (usable.empty()) return std::nullopt;
  if (usable.size() == 1) return usable.front();

  if (app.balancing == BalancingPolicy::kRoundRobin) {
    // Smooth weighted round robin (as nginx does): add each weight, take the largest, subtract
    // the total from it. Deterministic and evenly spread.
    auto& current = rr_current_[app.name];
    int64_t total = 0;
    size_t best = usable.front();
    int64_t best_value = INT64_MIN;
    for (size_t i : usable) {
      int64_t& cur = current[eps[i].key];
      cur += eps[i].weight;
      total += eps[i].weight;
      if (cur > best_value) best_value = cur, best = i;
    }
    current[eps[best].key] -= total;
    return best;
  }

  // Power of two choices.
  std::uniform_int_distribution<size_t> dist(0, usable.size() - 1);
  size_t a = usable[dist(rng_)];
  size_t b = usable[dist(rng_)];
  if (a == b) b = usable[(std::find(usable.begin(), usable.end(), a) - usable.begin() + 1) %
                         usable.size()];
  // Compare outstanding/weight without division: oa/wa < ob/wb  <=>  oa*wb < ob*wa.
  uint64_t la = uint64_t{StateOf(eps[a]).outstanding} * eps[b].weight;
  uint64_t lb = uint64_t{StateOf(eps[b]).outstanding} * eps[a].weight;
  if (la != lb) return la < lb ? a : b;
  return eps[a].weight >= eps[b].weight ? a : b;
}

}  // namespace valet
