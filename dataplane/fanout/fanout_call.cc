#include "dataplane/fanout/fanout_call.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/write.hpp"
#include "boost/beast/http/read.hpp"
#include "common/string_view.h"
#include "dataplane/http_fields.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

FanoutCall::FanoutCall(Key, const FanoutRoute& route, Exchange& exchange, Downstream& downstream)
    : route_(route),
      exchange_(exchange),
      downstream_(downstream),
      worker_(downstream.worker()),
      hold_(downstream.Hold()),
      snapshot_(exchange.snapshot) {}

void FanoutCall::Start(const FanoutRoute& route, const PathParams& params, Exchange& exchange,
                       Downstream& downstream) {
  auto call = std::make_shared<FanoutCall>(Key(), route, exchange, downstream);
  call->legs_.resize(route.legs.size());
  for (size_t i = 0; i < route.legs.size(); ++i) {
    Leg& leg = call->legs_[i];
    leg.spec = &route.legs[i];
    leg.spec->path.Render(params, exchange.target.rest, exchange.target.query, &leg.path,
                          &leg.query);
  }
  exchange.fanout = call;
  call->ReadBody();
}

void FanoutCall::Cancel() {
  cancelled_ = true;
  StopLegs();
}

void FanoutCall::StopLegs() {
  for (Leg& leg : legs_) {
    if (leg.deadline) leg.deadline->cancel();
    if (leg.call) leg.call->Cancel();
  }
}

// ---------------------------------------------------------------------------------------------
// The request body: read whole before any leg starts, since every leg sends it.

void FanoutCall::ReadBody() {
  auto& parser = exchange_.request;
  if (parser.is_done()) return StartLegs();
  uint64_t limit = worker_.options().max_fanout_body_bytes;
  if (auto length = parser.content_length(); length && *length > limit) {
    return FailBeforeLegs(errors::BodyTooLarge());
  }
  auto& req = parser.get();
  auto expect = req.find(http::field::expect);
  bool expects_continue = expect != req.end() &&
                          absl::EqualsIgnoreCase(AsAbsl(expect->value()), "100-continue") &&
                          !exchange_.client_http10;
  req.erase(http::field::expect);
  MaybeTlsStream& client = downstream_.stream();
  client.expires_after(worker_.options().client_timeout);
  if (expects_continue) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    return asio::async_write(client, asio::buffer(kContinue.data(), kContinue.size()),
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->FailBeforeLegs(errors::RequestTimeout());
                               self->ReadBody();
                             });
  }
  req.body().data = downstream_.RelayBuffer();
  req.body().size = Worker::kRelayBufferBytes;
  http::async_read_some(
      client, downstream_.buffer(), parser,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBodyRead(ec); });
}

void FanoutCall::OnBodyRead(beast::error_code ec) {
  if (ec == http::error::need_buffer) ec = {};
  auto& body = exchange_.request.get().body();
  if (ec) {
    if (cancelled_ || downstream_.closed()) return FailBeforeLegs({0, "", ""});
    if (ec == http::error::body_limit) return FailBeforeLegs(errors::BodyTooLarge());
    if (ec == beast::error::timeout) return FailBeforeLegs(errors::RequestTimeout());
    if (IsHttpParseError(ec) && ec != http::error::partial_message &&
        ec != http::error::end_of_stream) {
      worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
      return FailBeforeLegs(errors::BadRequest("malformed request body: " + ec.message()));
    }
    return FailBeforeLegs({0, "", ""});  // The client went away mid-body.
  }
  size_t got = Worker::kRelayBufferBytes - body.size;
  body_.append(downstream_.RelayBuffer(), got);
  if (body_.size() > worker_.options().max_fanout_body_bytes) {
    return FailBeforeLegs(errors::BodyTooLarge());
  }
  if (!exchange_.request.is_done()) return ReadBody();
  StartLegs();
}

void FanoutCall::FailBeforeLegs(const GatewayError& error) {
  answered_ = true;
  auto hold = std::move(hold_);
  if (error.status == 0 || downstream_.closed()) return downstream_.Abort(0);
  downstream_.Fail(error);
}

// ---------------------------------------------------------------------------------------------
// Legs.

void FanoutCall::StartLegs() {
  if (cancelled_ || downstream_.closed()) return FailBeforeLegs({0, "", ""});
  // The request every leg sends: the client's end-to-end fields, with the forwarding fields set;
  // no compression asked for, since the answers are parsed.
  http::request<http::string_body> base;
  auto& req = exchange_.request.get();
  // Beast refuses verb::unknown: a method it does not know is copied by name.
  if (req.method() == http::verb::unknown) {
    base.method_string(req.method_string());
  } else {
    base.method(req.method());
  }
  for (const auto& field : req) base.insert(field.name_string(), field.value());
  StripHopByHop(base);
  SetForwardedFields(base, downstream_.ClientIp(),
                     downstream_.stream().is_tls() ? "https" : "http");
  base.erase(http::field::accept_encoding);
  base.erase(http::field::expect);

  pending_ = legs_.size();
  for (size_t i = 0; i < legs_.size() && !answered_; ++i) {
    Leg& leg = legs_[i];
    http::request<http::string_body> request = base;
    request.body() = body_;
    RequestTarget target;
    target.rest = std::move(leg.path);
    target.query = std::move(leg.query);
    leg.call = UpstreamCall::Buffer(worker_, *leg.spec->app, std::move(request), std::move(target),
                                    worker_.options().max_fanout_answer_bytes,
                                    [self = shared_from_this(), i](UpstreamCall::Result result) {
                                      self->OnLegDone(i, std::move(result));
                                    });
    leg.call->set_response_timeout(leg.spec->timeout);
    leg.deadline.emplace(worker_.io());
    leg.deadline->expires_after(leg.spec->timeout);
    leg.deadline->async_wait(
        [self = shared_from_this(), i](beast::error_code ec) { self->OnLegDeadline(i, ec); });
  }
  // Started after every leg is set up: a leg that fails at once cannot answer before the
  // others exist.
  for (Leg& leg : legs_) {
    if (answered_) break;
    // A copy: the leg drops its call when the call ends, which may be inside Start.
    if (std::shared_ptr<UpstreamCall> call = leg.call) call->Start();
  }
}

void FanoutCall::OnLegDone(size_t index, UpstreamCall::Result result) {
  Leg& leg = legs_[index];
  leg.call.reset();
  if (leg.ended) return;
  if (leg.deadline) leg.deadline->cancel();
  if (cancelled_ || answered_) return EndLeg(index, LegOutcome::kCancelled, "cancelled");
  if (result.error) {
    bool timeout = result.error->status == 504;
    return EndLeg(index, timeout ? LegOutcome::kTimeout : LegOutcome::kConnection,
                  timeout ? absl::StrCat("no answer within ", leg.spec->timeout.count(), " ms")
                          : result.error->message);
  }
  int status = result.response.result_int();
  if (status < 200 || status > 299) {
    return EndLeg(index, LegOutcome::kStatus, absl::StrCat("status ", status));
  }
  LegJson value;
  std::string detail;
  LegOutcome outcome =
      ParseLegAnswer(result.response.body(), !leg.spec->group.empty(), &value, &detail);
  EndLeg(index, outcome, std::move(detail), std::move(value));
}

void FanoutCall::OnLegDeadline(size_t index, beast::error_code ec) {
  Leg& leg = legs_[index];
  if (ec || leg.ended) return;       // Cancelled: the leg ended first.
  if (leg.call) leg.call->Cancel();  // Its end is ignored: the leg has ended here.
  EndLeg(index, LegOutcome::kTimeout,
         absl::StrCat("no answer within ", leg.spec->timeout.count(), " ms"));
}

void FanoutCall::EndLeg(size_t index, LegOutcome outcome, std::string detail, LegJson value) {
  Leg& leg = legs_[index];
  leg.ended = true;
  leg.spec->stats->Record(outcome);
  leg.report.backend = leg.spec->name;
  leg.report.group = leg.spec->group;
  leg.report.required = leg.spec->required;
  leg.report.outcome = outcome;
  leg.report.detail = std::move(detail);
  leg.report.value = std::move(value);
  --pending_;
  if (answered_) return;
  // A failed required leg decides the answer: the others are not waited for.
  bool decided = pending_ == 0 || (leg.spec->required && outcome != LegOutcome::kOk);
  if (decided) Answer();
}

void FanoutCall::Answer() {
  answered_ = true;
  StopLegs();
  auto hold = std::move(hold_);
  if (cancelled_ || downstream_.closed()) return downstream_.Abort(0);
  std::vector<LegReport> reports;
  reports.reserve(legs_.size());
  for (Leg& leg : legs_) {
    if (leg.ended) reports.push_back(std::move(leg.report));
  }
  MergedAnswer merged = MergeLegs(reports, route_.collision);
  if (merged.error) return downstream_.Fail(*merged.error);
  http::response<http::string_body> answer{http::status::ok, 11};
  answer.set(http::field::content_type, "application/json");
  if (!merged.missing_header.empty()) answer.set("X-Valet-Missing", merged.missing_header);
  answer.body() = std::move(merged.body);
  downstream_.Respond(std::move(answer));
}

}  // namespace valet
