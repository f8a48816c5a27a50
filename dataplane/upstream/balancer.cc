#include "dataplane/upstream/balancer.h"

#include <algorithm>

#include "common/logging.h"

namespace valet {

EndpointState& Balancer::StateOf(const EndpointSpec& endpoint) { return states_[endpoint.key]; }

void Balancer::Retain(const absl::flat_hash_set<std::string>& keys) {
  absl::erase_if(states_, [&](const auto& entry) {
    return entry.second.outstanding == 0 && !keys.contains(entry.first);
  });
  // Apps that are gone, and endpoints an app no longer has.
  absl::erase_if(rr_current_, [&](auto& entry) {
    absl::erase_if(entry.second, [&](const auto& e) { return !keys.contains(e.first); });
    return entry.second.empty();
  });
}

bool Balancer::RecordFailure(const EndpointSpec& endpoint, Clock::time_point now) {
  EndpointState& state = StateOf(endpoint);
  // Failures while ejected (reached in panic mode) neither extend nor repeat the ejection.
  if (state.ejected && state.ejected_until > now) return false;
  if (++state.consecutive_failures < policy_.consecutive_failures) return false;
  state.consecutive_failures = 0;
  state.ejected_until = now + policy_.eject_duration;
  state.ejected = true;
  VALET_LOG(WARNING) << "endpoint " << endpoint.key << " ejected for "
                     << policy_.eject_duration.count() << " ms after "
                     << policy_.consecutive_failures << " consecutive failures";
  return true;
}

bool Balancer::Ejected(const EndpointSpec& ep, Clock::time_point now) {
  EndpointState& state = StateOf(ep);
  if (!state.ejected) return false;
  if (state.ejected_until > now) return true;
  state.ejected = false;
  VALET_LOG(INFO) << "endpoint " << ep.key << " back in service after its ejection";
  return false;
}

std::optional<Balancer::Choice> Balancer::Pick(const AppRoute& app, const Tried& tried,
                                               Clock::time_point now) {
  const auto& eps = app.endpoints;
  absl::InlinedVector<size_t, 8> usable;
  absl::InlinedVector<size_t, 8> ejected;
  for (size_t i = 0; i < eps.size(); ++i) {
    if (std::find(tried.begin(), tried.end(), i) != tried.end()) continue;
    (Ejected(eps[i], now) ? ejected : usable).push_back(i);
  }
  bool panic = usable.empty();
  if (panic) usable = std::move(ejected);  // Never eject them all: use what there is.
  if (usable.empty()) return std::nullopt;
  if (usable.size() == 1) return Choice{usable.front(), panic};

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
    return Choice{best, panic};
  }

  // Power of two choices.
  std::uniform_int_distribution<size_t> dist(0, usable.size() - 1);
  size_t a = usable[dist(rng_)];
  size_t b = usable[dist(rng_)];
  if (a == b)
    b = usable[(std::find(usable.begin(), usable.end(), a) - usable.begin() + 1) % usable.size()];
  // Compare outstanding/weight without division: oa/wa < ob/wb  <=>  oa*wb < ob*wa.
  uint64_t la = uint64_t{StateOf(eps[a]).outstanding} * eps[b].weight;
  uint64_t lb = uint64_t{StateOf(eps[b]).outstanding} * eps[a].weight;
  if (la != lb) return Choice{la < lb ? a : b, panic};
  return Choice{eps[a].weight >= eps[b].weight ? a : b, panic};
}

}  // namespace valet
