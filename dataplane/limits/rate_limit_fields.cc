#include "dataplane/limits/rate_limit_fields.h"

#include "absl/strings/str_cat.h"

namespace valet {

const BudgetState& BindingBudget(const BudgetState* app, const BudgetState* consumer) {
  if (app == nullptr) return *consumer;
  if (consumer == nullptr) return *app;
  return consumer->remaining() < app->remaining() ? *consumer : *app;
}

void SetRateLimitFields(const BudgetState* app, const BudgetState* consumer,
                        ResponseFields& fields) {
  const BudgetState& binding = BindingBudget(app, consumer);
  fields.Set("X-Ratelimit-Used", absl::StrCat(binding.used));
  fields.Set("X-Ratelimit-Remaining", absl::StrCat(binding.remaining()));
  fields.Set("X-Ratelimit-Reset", absl::StrCat(binding.reset.count()));
  std::string policy;
  std::string state;
  auto add = [&](const char* name, const BudgetState& b) {
    const char* sep = policy.empty() ? "" : ", ";
    absl::StrAppend(&policy, sep, "\"", name, "\";q=", b.limit, ";w=", b.period.count());
    absl::StrAppend(&state, sep, "\"", name, "\";r=", b.remaining(), ";t=", b.reset.count());
  };
  if (app != nullptr) add("default", *app);
  if (consumer != nullptr) add("consumer", *consumer);
  fields.Set("RateLimit-Policy", std::move(policy));
  fields.Set("RateLimit", std::move(state));
}

}  // namespace valet
