// Chooses the backend endpoint of each request (one Balancer per worker thread; not thread-safe).
//
// least_request: power of two choices over the app's healthy endpoints, comparing outstanding
// requests divided by weight (the seed's "send each request to the least-loaded worker").
// round_robin: smooth weighted round robin.
//
// Passive health is outlier detection, as Envoy's: an endpoint is ejected (skipped) for a while
// only after several consecutive failures, and never all of an app's endpoints at once: when
// every endpoint left to try is ejected, the balancer picks among them anyway (panic mode), so a
// struggling backend gets slower answers instead of none. State is keyed by "host:port" so it
// survives snapshot swaps.
#ifndef VALET_DATAPLANE_UPSTREAM_BALANCER_H_
#define VALET_DATAPLANE_UPSTREAM_BALANCER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/container/node_hash_map.h"
#include "dataplane/snapshot.h"

namespace valet {

// Per-endpoint state of one worker. Stable address for the worker's life.
struct EndpointState {
  uint32_t outstanding = 0;
  uint32_t consecutive_failures = 0;
  std::chrono::steady_clock::time_point ejected_until{};
  bool ejected = false;  // Ejected and not yet seen back: its return is logged once.
};

struct OutlierPolicy {
  uint32_t consecutive_failures = 5;  // Failures in a row that eject.
  std::chrono::milliseconds eject_duration{5'000};
};

class Balancer {
 public:
  using Clock = std::chrono::steady_clock;
  using Tried = absl::InlinedVector<size_t, 2>;

  struct Choice {
    size_t index;
    bool panic;  // Every endpoint left was ejected: chosen among them anyway.
  };

  Balancer(uint64_t seed, OutlierPolicy policy) : rng_(seed), policy_(policy) {}

  // The endpoint to use, skipping those in `tried` and (unless all that remain are) ejected
  // ones; nullopt when every endpoint was tried.
  std::optional<Choice> Pick(const AppRoute& app, const Tried& tried, Clock::time_point now);

  EndpointState& StateOf(const EndpointSpec& endpoint);

  // A request reached the endpoint: its failure streak ends.
  void RecordSuccess(EndpointState& state) { state.consecutive_failures = 0; }
  // The endpoint failed a request. True when this failure ejected it.
  bool RecordFailure(const EndpointSpec& endpoint, Clock::time_point now);

  // Forgets endpoints no longer configured (and idle), so state does not grow with churn.
  void Retain(const absl::flat_hash_set<std::string>& keys);

 private:
  bool Ejected(const EndpointSpec& ep, Clock::time_point now);

  std::minstd_rand rng_;
  OutlierPolicy policy_;
  absl::node_hash_map<std::string, EndpointState> states_;
  // Smooth weighted round robin: current weights per app, by endpoint key.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>> rr_current_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_UPSTREAM_BALANCER_H_
