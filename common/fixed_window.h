// Fixed rate-limit windows aligned to the wall clock (the data planes' budgets and the control
// plane's quota ledger use the same ones): window N of a period P covers the unix
// seconds [N*P, (N+1)*P). Every data plane (and the control plane) computes the same windows from
// its own clock, so they agree on boundaries without talking. A clock stepped back by the
// operator starts the window it lands in afresh.
#ifndef VALET_COMMON_FIXED_WINDOW_H_
#define VALET_COMMON_FIXED_WINDOW_H_

#include <chrono>
#include <cstdint>

namespace valet {

using WallClock = std::chrono::system_clock;

struct WindowPosition {
  uint64_t index = 0;             // floor(unix seconds / period).
  std::chrono::seconds reset{0};  // Whole seconds (rounded up) to the window's end: at least 1.
};

inline WindowPosition WindowAt(WallClock::time_point now, std::chrono::seconds period) {
  const int64_t period_ms = std::chrono::milliseconds(period).count();
  int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (now_ms < 0 || period_ms <= 0) return {0, period};  // A clock before 1970: one window.
  WindowPosition at;
  at.index = static_cast<uint64_t>(now_ms / period_ms);
  int64_t left_ms = static_cast<int64_t>(at.index + 1) * period_ms - now_ms;
  at.reset = std::chrono::seconds((left_ms + 999) / 1000);
  return at;
}

}  // namespace valet

#endif  // VALET_COMMON_FIXED_WINDOW_H_
