#include "dataplane/limits/budget.h"

#include <algorithm>

namespace valet {

BudgetState Budget::StateAt(const WindowPosition& at) const {
  BudgetState state;
  state.limit = limit_.load(std::memory_order_relaxed);
  state.period = period_;
  state.reset = at.reset;
  state.window = at.index;
  return state;
}

Budget::Spend Budget::TrySpendUpTo(WallClock::time_point now, uint32_t cap) {
  const WindowPosition at = WindowAt(now, period_);
  const uint32_t window = static_cast<uint32_t>(at.index);
  Spend spend;
  spend.state = StateAt(at);
  uint64_t word = spent_.load(std::memory_order_relaxed);
  for (;;) {
    // A word of an earlier window counts as nothing spent: the first spend of a window starts it.
    uint32_t used = WindowOf(word) == window ? CountOf(word) : 0;
    if (used >= cap) {
      // Refused below the limit (a fallback share): nothing remains for this data plane.
      spend.state.used = cap < spend.state.limit ? std::max(used, spend.state.limit) : used;
      return spend;
    }
    if (spent_.compare_exchange_weak(word, Pack(window, used + 1), std::memory_order_relaxed)) {
      spend.outcome = Outcome::kAdmitted;
      spend.state.used = used + 1;
      return spend;
    }
  }
}

void Budget::CountSpend(uint32_t window) {
  uint64_t word = spent_.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t used = WindowOf(word) == window ? CountOf(word) : 0;
    if (spent_.compare_exchange_weak(word, Pack(window, used + 1), std::memory_order_relaxed)) {
      return;
    }
  }
}

Budget::Spend Budget::TrySpendGranted(WallClock::time_point now) {
  const WindowPosition at = WindowAt(now, period_);
  const uint32_t window = static_cast<uint32_t>(at.index);
  Spend spend;
  uint64_t word = tokens_.load(std::memory_order_relaxed);
  while (WindowOf(word) == window && CountOf(word) > 0) {
    if (tokens_.compare_exchange_weak(word, word - 1, std::memory_order_relaxed)) {
      CountSpend(window);
      spent_since_ask_.fetch_add(1, std::memory_order_relaxed);
      spend.outcome = Outcome::kAdmitted;
      spend.state = Peek(now, /*global=*/true);
      return spend;
    }
  }
  spend.state = Peek(now, /*global=*/true);
  if (exhausted_.load(std::memory_order_relaxed) == at.index + 1 &&
      SteadyNowMs() < ask_again_at_ms_.load(std::memory_order_relaxed)) {
    spend.outcome = Outcome::kRefused;
    spend.state.used = std::max(spend.state.used, spend.state.limit);
  } else {
    spend.outcome = Outcome::kNeedGrant;
  }
  return spend;
}

void Budget::Refund(uint64_t window_index, bool granted) {
  const uint32_t window = static_cast<uint32_t>(window_index);
  uint64_t word = spent_.load(std::memory_order_relaxed);
  while (WindowOf(word) == window && CountOf(word) > 0) {
    if (spent_.compare_exchange_weak(word, word - 1, std::memory_order_relaxed)) break;
  }
  if (!granted) return;
  word = tokens_.load(std::memory_order_relaxed);
  while (WindowOf(word) == window) {
    if (tokens_.compare_exchange_weak(word, word + 1, std::memory_order_relaxed)) return;
  }
}

uint32_t Budget::SpentIn(uint64_t window) const {
  uint64_t word = spent_.load(std::memory_order_relaxed);
  return WindowOf(word) == static_cast<uint32_t>(window) ? CountOf(word) : 0;
}

BudgetState Budget::Peek(WallClock::time_point now, bool global) const {
  const WindowPosition at = WindowAt(now, period_);
  BudgetState state = StateAt(at);
  state.used = SpentIn(at.index);
  if (!global) return state;
  // The cluster's use as this data plane last heard it: granted everywhere, less what is still
  // unspent here (what other data planes hold counts as used).
  uint64_t cluster = cluster_granted_.load(std::memory_order_relaxed);
  uint64_t tokens = tokens_.load(std::memory_order_relaxed);
  if (WindowOf(cluster) == static_cast<uint32_t>(at.index)) {
    uint32_t left = WindowOf(tokens) == static_cast<uint32_t>(at.index) ? CountOf(tokens) : 0;
    uint32_t granted = CountOf(cluster);
    uint32_t used = granted > left ? granted - left : 0;
    state.used = std::max(state.used, used);
  }
  return state;
}

void Budget::CountRefusal(uint64_t window_index) {
  const uint32_t window = static_cast<uint32_t>(window_index);
  uint64_t word = refused_.load(std::memory_order_relaxed);
  for (;;) {
    if (WindowOf(word) == window) {
      if (refused_.compare_exchange_weak(word, word + 1, std::memory_order_relaxed)) return;
      continue;
    }
    if (refused_.compare_exchange_weak(word, Pack(window, 1), std::memory_order_relaxed)) {
      // The window before this one: the word just replaced if it was that window's.
      refused_before_.store(WindowOf(word) == window - 1 ? word : Pack(window - 1, 0),
                            std::memory_order_relaxed);
      return;
    }
  }
}

Budget::Refusals Budget::RefusedAt(uint64_t window_index) const {
  const uint32_t window = static_cast<uint32_t>(window_index);
  uint64_t word = refused_.load(std::memory_order_relaxed);
  uint64_t before = refused_before_.load(std::memory_order_relaxed);
  Refusals refusals;
  if (WindowOf(word) == window) {
    refusals.this_window = CountOf(word);
    if (WindowOf(before) == window - 1) refusals.last_window = CountOf(before);
  } else if (WindowOf(word) == window - 1) {
    refusals.last_window = CountOf(word);
  }
  return refusals;
}

void Budget::AddGrant(uint64_t window_index, uint32_t granted, uint64_t window_granted,
                      int64_t ask_again_at_ms) {
  if (WindowAt(WallClock::now(), period_).index != window_index) {
    // A late answer for a window that is over (or one this clock has not reached): nothing to
    // spend. The waiters ask again for their own window.
    asking_.store(false, std::memory_order_release);
    WakeAll();
    return;
  }
  const uint32_t window = static_cast<uint32_t>(window_index);
  uint64_t word = tokens_.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t held = WindowOf(word) == window ? CountOf(word) : 0;
    if (tokens_.compare_exchange_weak(word, Pack(window, held + granted),
                                      std::memory_order_relaxed)) {
      break;
    }
  }
  uint32_t cluster = static_cast<uint32_t>(std::min<uint64_t>(window_granted, UINT32_MAX));
  cluster_granted_.store(Pack(window, cluster), std::memory_order_relaxed);
  last_grant_.store(granted, std::memory_order_relaxed);
  if (granted == 0) {
    ask_again_at_ms_.store(ask_again_at_ms, std::memory_order_relaxed);
    exhausted_.store(window_index + 1, std::memory_order_relaxed);
  }
  asking_.store(false, std::memory_order_release);
  WakeAll();
}

uint32_t Budget::TokensLeft(uint64_t window) const {
  uint64_t word = tokens_.load(std::memory_order_relaxed);
  return WindowOf(word) == static_cast<uint32_t>(window) ? CountOf(word) : 0;
}

uint32_t Budget::TakeIdleTokens(uint64_t window_index) {
  const uint32_t window = static_cast<uint32_t>(window_index);
  uint64_t spent = spent_.load(std::memory_order_relaxed);
  uint64_t tokens = tokens_.load(std::memory_order_relaxed);
  bool idle = swept_spent_.exchange(spent, std::memory_order_relaxed) == spent &&
              swept_tokens_.exchange(tokens, std::memory_order_relaxed) == tokens;
  if (!idle) {
    swept_tokens_.store(tokens, std::memory_order_relaxed);
    return 0;
  }
  if (WindowOf(tokens) != window || CountOf(tokens) == 0) return 0;
  // One attempt: if it fails a request just spent, so the quota is not idle after all.
  if (!tokens_.compare_exchange_strong(tokens, Pack(window, 0), std::memory_order_relaxed)) {
    swept_tokens_.store(tokens, std::memory_order_relaxed);
    return 0;
  }
  swept_tokens_.store(Pack(window, 0), std::memory_order_relaxed);
  return CountOf(tokens);
}

void Budget::ForgetGrants() {
  tokens_.store(0, std::memory_order_relaxed);
  cluster_granted_.store(0, std::memory_order_relaxed);
  exhausted_.store(0, std::memory_order_relaxed);
  asking_.store(false, std::memory_order_release);
}

void Budget::AddWaiter(std::function<void()> wake) {
  absl::MutexLock lock(&waiters_mu_);
  waiters_.push_back(std::move(wake));
}

void Budget::WakeAll() {
  std::vector<std::function<void()>> waiters;
  {
    absl::MutexLock lock(&waiters_mu_);
    waiters.swap(waiters_);
  }
  for (auto& wake : waiters) wake();
}

bool Budget::StartAsking(int64_t now_ms, int64_t retry_after_ms) {
  bool expected = false;
  if (asking_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    asked_at_ms_.store(now_ms, std::memory_order_relaxed);
    return true;
  }
  // Unanswered for too long (the request or its answer was lost with a stream): ask again.
  int64_t asked = asked_at_ms_.load(std::memory_order_relaxed);
  if (now_ms - asked < retry_after_ms) return false;
  return asked_at_ms_.compare_exchange_strong(asked, now_ms, std::memory_order_relaxed);
}

uint32_t Budget::NextWant() {
  uint32_t spent = spent_since_ask_.exchange(0, std::memory_order_relaxed);
  uint64_t want = std::max<uint64_t>(1, 2ull * spent);
  return static_cast<uint32_t>(std::min<uint64_t>(want, std::max<uint32_t>(1, limit())));
}

}  // namespace valet
