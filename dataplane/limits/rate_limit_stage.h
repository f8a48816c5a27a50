// The rate-limit stage of a limited app's request path (after auth, before the handler).
//
// kSpend: spends one request from the app's budget and, if the caller (exchange.consumer, set by
// auth) has a limit of its own, from the consumer's budget; if the second refuses, the first is
// given back. Admitted: the answer, whatever it is, carries the rate-limit fields
// (limits/rate_limit_fields.h). Refused: 429 rate_limited with Retry-After. On a data plane
// attached to a control plane (global mode) a budget without granted quota makes the request
// wait for a grant (QuotaBroker asks), at most the broker's wait, then 429; the wait holds the
// connection and resumes the pipeline on the worker's thread.
//
// kAnnounce: runs before auth and only sets the fields from the app budget's current state, so
// that an answer auth refuses (401) carries them too; it spends nothing.
//
// Immutable and shared by every worker; the budgets and counters it points to are atomics.
#ifndef VALET_DATAPLANE_LIMITS_RATE_LIMIT_STAGE_H_
#define VALET_DATAPLANE_LIMITS_RATE_LIMIT_STAGE_H_

#include <memory>
#include <optional>

#include "dataplane/limits/app_limits.h"
#include "dataplane/pipeline/stage.h"

namespace valet {

class RateLimitStage : public Stage {
 public:
  enum class Mode { kAnnounce, kSpend };

  RateLimitStage(std::shared_ptr<const AppLimits> limits, Mode mode)
      : limits_(std::move(limits)), mode_(mode) {}

  std::string_view name() const override {
    return mode_ == Mode::kSpend ? "rate_limit" : "rate_limit_announce";
  }
  StageResult Run(Exchange& exchange, Downstream& downstream) const override;

 private:
  struct Waiter;
  // The outcome of spending for one exchange: admitted (fields set), refused (fields set, the
  // error to answer), or a budget that needs a grant first.
  struct Attempt {
    Budget::Outcome outcome = Budget::Outcome::kAdmitted;
    std::optional<GatewayError> error;
    Budget* waiting_on = nullptr;
    uint64_t window = 0;
  };
  Attempt Spend(Exchange& exchange) const;
  // Waits for a grant of `attempt.waiting_on` (Waiter: timer, hold, resume).
  void Park(const std::shared_ptr<Waiter>& waiter, const Attempt& attempt) const;
  void Retry(const std::shared_ptr<Waiter>& waiter) const;
  void GiveUp(Waiter& waiter) const;

  std::shared_ptr<const AppLimits> limits_;
  Mode mode_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_RATE_LIMIT_STAGE_H_
