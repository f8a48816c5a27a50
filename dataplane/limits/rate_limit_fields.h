// The header fields that tell a client where it stands with an app's rate limit, on every answer
// of a limited app:
//   X-Ratelimit-Used, X-Ratelimit-Remaining, X-Ratelimit-Reset   (the seed's fields)
//   RateLimit-Policy: "default";q=LIMIT;w=PERIOD                   (draft-ietf-httpapi-
//   RateLimit: "default";r=REMAINING;t=RESET                        ratelimit-headers-10/11)
// The app's budget is the policy "default"; a consumer's own budget is the policy "consumer"
// (both listed when both apply). The X- fields describe the binding budget: the one with the
// fewest requests left.
#ifndef VALET_DATAPLANE_LIMITS_RATE_LIMIT_FIELDS_H_
#define VALET_DATAPLANE_LIMITS_RATE_LIMIT_FIELDS_H_

#include "dataplane/limits/budget.h"
#include "dataplane/pipeline/exchange.h"

namespace valet {

// The budget of `app` and `consumer` (either may be null, not both) that binds: fewer requests
// left, the app's on a tie.
const BudgetState& BindingBudget(const BudgetState* app, const BudgetState* consumer);

// Sets the five fields on `fields` (replacing earlier values).
void SetRateLimitFields(const BudgetState* app, const BudgetState* consumer,
                        ResponseFields& fields);

}  // namespace valet

#endif  // VALET_DATAPLANE_LIMITS_RATE_LIMIT_FIELDS_H_
