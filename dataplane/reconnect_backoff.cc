#include "dataplane/reconnect_backoff.h"

#include <algorithm>

namespace valet {

ReconnectBackoff::ReconnectBackoff(absl::Duration min, absl::Duration max, uint64_t seed)
    : min_(min), max_(std::max(min, max)), step_(min_), rng_(seed) {}

absl::Duration ReconnectBackoff::NextDelay() {
  // step_ never exceeds max_, so doubling it cannot overflow (absl::Duration would saturate).
  step_ = std::min(step_ * 2, max_);
  absl::Duration low = std::max(min_, step_ / 2);
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  // Clamped as well: the product may round a hair outside [low, step_].
  return std::clamp(low + (step_ - low) * fraction(rng_), min_, max_);
}

}  // namespace valet
