// ReconnectBackoff: how long the control client waits before its next attach attempt.
//
// Exponential backoff with jitter, bounded on both sides: the n-th wait since construction or the
// last Reset() (n = 1, 2, ...) has the step s = min(min * 2^n, max) and is drawn uniformly from
// [max(min, s / 2), s]. Every wait is therefore within [min, max], and even the first may be up to
// 2 * min; the upper half of the step keeps data planes that lost the same control plane from
// retrying in lockstep without ever exceeding the documented cap. The control client waits once
// after a stream ends and once after each failed attempt, calling Reset() first when the stream
// was up: the wait after it starts from the bottom again.
//
// This is the only backoff between attempts: the control client gives each attempt a fresh gRPC
// channel, so gRPC's own reconnect backoff never adds to it.
//
// Thread-compatible: owned and used by the control client's thread.
#ifndef VALET_DATAPLANE_RECONNECT_BACKOFF_H_
#define VALET_DATAPLANE_RECONNECT_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace valet {

class ReconnectBackoff {
 public:
  // Requires 0 < min <= max (the caller validates operator input).
  ReconnectBackoff(absl::Duration min, absl::Duration max, uint64_t seed);

  // The wait after one more failed attempt; grows until it reaches max.
  absl::Duration NextDelay();

  // A stream was up: forget the failures before it.
  void Reset() { step_ = min_; }

  absl::Duration min() const { return min_; }
  absl::Duration max() const { return max_; }

 private:
  const absl::Duration min_;
  const absl::Duration max_;
  absl::Duration step_;  // Of the last wait: min after Reset, doubling up to max.
  std::mt19937_64 rng_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_RECONNECT_BACKOFF_H_
