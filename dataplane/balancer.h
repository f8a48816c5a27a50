// Chooses the backend endpoint of each request (one Balancer per worker thread; not thread-safe).
//
// least_request: power of two choices over the app's healthy endpoints, comparing outstanding
// requests divided by weight (the seed's "send each request to the least-loaded worker").
// round_robin: smooth weighted round robin.
// An endpoint that failed to connect is ejected for a while and skipped; state is keyed by
// "host:port" so it survives snapshot swaps.
#ifndef VALET_DATAPLANE_BALANCER_H_
#define VALET_DATAPLANE_BALANCER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "dataplane/snapshot.h"

namespace valet {

// Per-endpoint state of one worker. Stable address for the worker's life.
struct EndpointState {
  uint32_t outstanding = 0;
  std::chrono::steady_clock::time_point ejected_until{};
};

class Balancer {
 public:
  using Clock = std::chrono::steady_clock;
  using Tried = absl::InlinedVector<size_t, 2>;

  explicit Balancer(uint64_t seed) : rng_(seed) {}

  // Index of the endpoint to use, skipping ejected endpoints and those in `tried`;
  // nullopt when none is left.
  std::optional<size_t> Pick(const AppRoute& app, const Tried& tried, Clock::time_point now);

  EndpointState& StateOf(const EndpointSpec& endpoint);

  void Eject(const EndpointSpec& endpoint, Clock::time_point until) {
    StateOf(endpoint).ejected_until = until;
  }

  // Forgets endpoints no longer configured (and idle), so state does not grow with churn.
  void Retain(const absl::flat_hash_set<std::string>& keys);

 private:
  bool Usable(const EndpointSpec& ep, size_t index, const Tried& tried, Clock::time_point now);

  std::minstd_rand rng_;
  absl::node_hash_map<std::string, EndpointState> states_;
  // Smooth weighted round robin: current weights per app, by endpoint key.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>> rr_current_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_BALANCER_H_
