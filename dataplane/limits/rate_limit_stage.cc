#include "dataplane/limits/rate_limit_stage.h"

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "dataplane/limits/quota_broker.h"
#include "dataplane/limits/rate_limit_fields.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/pipeline/pipeline.h"
#include "dataplane/worker.h"

namespace valet {

// A request waiting for a grant. Lives on its worker's thread: the timer's handler owns it until
// the timer ends; budgets' wake-ups hold it weakly and post to the worker, so `done` needs no
// lock and a waiter that gave up is not kept alive by a budget.
struct RateLimitStage::Waiter {
  Waiter(Exchange& e, Downstream& d) : exchange(&e), downstream(&d), timer(d.worker().io()) {}
  Exchange* exchange;
  Downstream* downstream;
  std::shared_ptr<void> hold;  // Keeps the connection and the exchange alive while waiting.
  boost::asio::steady_timer timer;
  Budget* waiting_on = nullptr;  // The budget whose grant it waits for now.
  bool done = false;
};

namespace {

// `refusing`: the budget that refused, counted for GetLimits.
GatewayError Refusal(const AppLimits& limits, Budget& refusing, const BudgetState* app,
                     const BudgetState* consumer, Exchange& exchange) {
  limits.counters->refused.fetch_add(1, std::memory_order_relaxed);
  refusing.CountRefusal(BindingBudget(app, consumer).window);
  SetRateLimitFields(app, consumer, exchange.response_fields);
  const BudgetState& binding = BindingBudget(app, consumer);
  exchange.response_fields.Set("Retry-After", absl::StrCat(binding.reset.count()));
  return errors::RateLimited(binding.limit, binding.period.count(),
                             consumer != nullptr && &binding == consumer ? "consumer" : "app");
}

}  // namespace

RateLimitStage::Attempt RateLimitStage::Spend(Exchange& exchange) const {
  const WallClock::time_point now = WallClock::now();
  const LimitMode mode = limits_->broker != nullptr ? limits_->broker->mode() : LimitMode::kLocal;
  const bool global = mode == LimitMode::kGlobal;
  auto spend = [&](Budget& budget) {
    switch (mode) {
      case LimitMode::kGlobal:
        return budget.TrySpendGranted(now);
      case LimitMode::kFallback:
        return budget.TrySpendUpTo(now, limits_->broker->share(budget.limit()));
      case LimitMode::kLocal:
        break;
    }
    return budget.TrySpend(now);
  };

  Attempt attempt;
  Budget* consumer_budget = nullptr;
  if (exchange.consumer != nullptr && !limits_->consumers.empty()) {
    auto it = limits_->consumers.find(exchange.consumer->name);
    if (it != limits_->consumers.end()) consumer_budget = it->second.get();
  }
  if (!limits_->app && consumer_budget == nullptr) return attempt;  // Not limited at all.

  Budget::Spend app;
  if (limits_->app) {
    app = spend(*limits_->app);
    if (app.outcome == Budget::Outcome::kNeedGrant) {
      return {Budget::Outcome::kNeedGrant, std::nullopt, limits_->app.get(), app.state.window};
    }
    if (!app.admitted()) {
      attempt.outcome = Budget::Outcome::kRefused;
      // The consumer's state as it stands, for its fields: nothing is spent from it.
      if (consumer_budget == nullptr) {
        attempt.error = Refusal(*limits_, *limits_->app, &app.state, nullptr, exchange);
      } else {
        BudgetState consumer = consumer_budget->Peek(now, global);
        attempt.error = Refusal(*limits_, *limits_->app, &app.state, &consumer, exchange);
      }
      return attempt;
    }
  }
  const BudgetState* app_state = limits_->app ? &app.state : nullptr;
  const BudgetState* consumer_state = nullptr;
  Budget::Spend consumer;
  if (consumer_budget != nullptr) {
    consumer = spend(*consumer_budget);
    if (!consumer.admitted()) {
      if (limits_->app) {
        limits_->app->Refund(app.state.window, /*granted=*/global);
        --app.state.used;
      }
      if (consumer.outcome == Budget::Outcome::kNeedGrant) {
        return {Budget::Outcome::kNeedGrant, std::nullopt, consumer_budget, consumer.state.window};
      }
      attempt.outcome = Budget::Outcome::kRefused;
      attempt.error = Refusal(*limits_, *consumer_budget, app_state, &consumer.state, exchange);
      return attempt;
    }
    consumer_state = &consumer.state;
  }
  limits_->counters->admitted.fetch_add(1, std::memory_order_relaxed);
  SetRateLimitFields(app_state, consumer_state, exchange.response_fields);
  if (global) {
    if (limits_->app) limits_->broker->MaybeAskAhead(*limits_->app, app.state);
    if (consumer_budget != nullptr) {
      limits_->broker->MaybeAskAhead(*consumer_budget, consumer.state);
    }
  }
  return attempt;
}

StageResult RateLimitStage::Run(Exchange& exchange, Downstream& downstream) const {
  if (mode_ == Mode::kAnnounce) {
    if (limits_->app) {
      bool global = limits_->broker != nullptr && limits_->broker->mode() == LimitMode::kGlobal;
      BudgetState app = limits_->app->Peek(WallClock::now(), global);
      SetRateLimitFields(&app, nullptr, exchange.response_fields);
    }
    return StageResult::Next();
  }
  Attempt attempt = Spend(exchange);
  switch (attempt.outcome) {
    case Budget::Outcome::kAdmitted:
      return StageResult::Next();
    case Budget::Outcome::kRefused:
      return StageResult::Fail(std::move(*attempt.error));
    case Budget::Outcome::kNeedGrant:
      break;
  }
  auto waiter = std::make_shared<Waiter>(exchange, downstream);
  waiter->hold = downstream.Hold();
  waiter->timer.expires_after(limits_->broker->wait());
  waiter->timer.async_wait([this, waiter](boost::system::error_code ec) {
    if (ec || waiter->done) return;
    GiveUp(*waiter);
  });
  Park(waiter, attempt);
  return StageResult::Wait();
}

void RateLimitStage::Park(const std::shared_ptr<Waiter>& waiter, const Attempt& attempt) const {
  waiter->waiting_on = attempt.waiting_on;
  std::weak_ptr<Waiter> weak = waiter;
  auto executor = waiter->timer.get_executor();
  attempt.waiting_on->AddWaiter([this, weak, executor] {
    boost::asio::post(executor, [this, weak] {
      if (auto w = weak.lock(); w && !w->done) Retry(w);
    });
  });
  limits_->broker->Ask(*attempt.waiting_on, attempt.window);
}

void RateLimitStage::Retry(const std::shared_ptr<Waiter>& waiter) const {
  Attempt attempt = Spend(*waiter->exchange);
  if (attempt.outcome == Budget::Outcome::kNeedGrant) return Park(waiter, attempt);
  waiter->done = true;
  waiter->timer.cancel();
  std::shared_ptr<void> hold = std::move(waiter->hold);  // Released once the answer is under way.
  Downstream& downstream = *waiter->downstream;
  if (attempt.outcome == Budget::Outcome::kAdmitted) {
    return ResumePipeline(*waiter->exchange, downstream);
  }
  if (downstream.closed()) return downstream.Abort(0);
  downstream.Fail(*attempt.error);
}

void RateLimitStage::GiveUp(Waiter& waiter) const {
  waiter.done = true;
  std::shared_ptr<void> hold = std::move(waiter.hold);
  Downstream& downstream = *waiter.downstream;
  if (downstream.closed()) return downstream.Abort(0);
  // No grant in time: refused as if the budget waited for were spent, with its state as last
  // heard.
  const WallClock::time_point now = WallClock::now();
  BudgetState waited = waiter.waiting_on->Peek(now, /*global=*/true);
  waited.used = std::max(waited.used, waited.limit);
  GatewayError error =
      waiter.waiting_on == limits_->app.get()
          ? Refusal(*limits_, *waiter.waiting_on, &waited, nullptr, *waiter.exchange)
          : (limits_->app ? [&] {
              BudgetState app = limits_->app->Peek(now, /*global=*/true);
              return Refusal(*limits_, *waiter.waiting_on, &app, &waited, *waiter.exchange);
            }()
                          : Refusal(*limits_, *waiter.waiting_on, nullptr, &waited,
                                    *waiter.exchange));
  downstream.Fail(error);
}

}  // namespace valet
