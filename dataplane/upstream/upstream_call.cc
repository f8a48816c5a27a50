#include "dataplane/upstream/upstream_call.h"

#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "boost/asio/ssl/error.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/http/read.hpp"
#include "common/string_view.h"
#include "dataplane/http_fields.h"
#include "dataplane/http_head.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/tls/client_contexts.h"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Interim (1xx) answers tolerated before the final one.
constexpr int kMaxInterimResponses = 8;
constexpr size_t kBodyReadBytes = 16 * 1024;

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

// RFC 9110 9.2.2: a proxy may send these again after a lost connection; never POST or PATCH.
bool IsIdempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

bool IsConnectionLoss(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == http::error::partial_message ||
         // A TLS backend that closed without close_notify (an idle pooled connection).
         ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace

UpstreamCall::UpstreamCall(Key, Worker& worker, const AppRoute& app, Mode mode)
    : worker_(worker), app_(app), mode_(mode), response_timeout_(app.request_timeout) {}

UpstreamCall::~UpstreamCall() { Release(false); }

std::shared_ptr<UpstreamCall> UpstreamCall::Stream(Exchange& exchange, Downstream& downstream) {
  auto call =
      std::make_shared<UpstreamCall>(Key(), downstream.worker(), *exchange.app, Mode::kStream);
  call->exchange_ = &exchange;
  call->downstream_ = &downstream;
  call->hold_ = downstream.Hold();
  auto& req = exchange.request.get();
  call->request_ = &req;
  call->target_ = &exchange.target;
  call->request_head_ = &downstream.RequestHeadBuffer();
  call->response_head_ = &downstream.ResponseHeadBuffer();
  call->request_has_body_ = !exchange.request.is_done();
  auto expect = req.find(http::field::expect);
  // RFC 9110 10.1.1: an HTTP/1.0 client's Expect is ignored.
  call->expects_continue_ = expect != req.end() &&
                            absl::EqualsIgnoreCase(AsAbsl(expect->value()), "100-continue") &&
                            call->request_has_body_ && !exchange.client_http10;
  req.erase(http::field::expect);
  call->head_request_ = exchange.head_request;
  call->upgrade_ = req.find(http::field::upgrade) != req.end();
  return call;
}

std::shared_ptr<UpstreamCall> UpstreamCall::Buffer(Worker& worker, const AppRoute& app,
                                                   http::request<http::string_body> request,
                                                   RequestTarget target, size_t max_body_bytes,
                                                   Done done) {
  auto call = std::make_shared<UpstreamCall>(Key(), worker, app, Mode::kBuffer);
  call->own_request_ = std::move(request);
  call->own_target_ = std::move(target);
  call->max_body_bytes_ = max_body_bytes;
  call->done_ = std::move(done);
  call->request_ = &call->own_request_;
  call->target_ = &call->own_target_;
  call->request_head_ = &call->own_request_head_;
  call->response_head_ = &call->own_response_head_;
  call->request_has_body_ = !call->own_request_.body().empty();
  call->head_request_ = call->own_request_.method() == http::verb::head;
  call->own_request_.version(11);
  if (call->request_has_body_) {
    call->own_request_.content_length(call->own_request_.body().size());
  }
  return call;
}

void UpstreamCall::Start() { Acquire(); }

void UpstreamCall::Cancel() {
  cancelled_ = true;
  beast::error_code ignored;
  if (upstream_) upstream_->stream.socket().close(ignored);
}

bool UpstreamCall::client_gone() const {
  return cancelled_ || (mode_ == Mode::kStream && downstream_->closed());
}

// ---------------------------------------------------------------------------------------------
// Endings: each call ends exactly once.

void UpstreamCall::Fail(const GatewayError& error) {
  if (ended_) return;
  ended_ = true;
  if (mode_ == Mode::kBuffer) {
    Done done = std::move(done_);
    return done(Result{error, {}});
  }
  auto hold = std::move(hold_);  // The session may end with this call.
  downstream_->Fail(error);
}

void UpstreamCall::Finished(int status) {
  if (ended_) return;
  ended_ = true;
  if (mode_ == Mode::kBuffer) {
    Done done = std::move(done_);
    return done(Result{std::nullopt, buffered_->release()});
  }
  auto hold = std::move(hold_);
  downstream_->Finished(status);
}

void UpstreamCall::Abort(int status) {
  if (ended_) return;
  ended_ = true;
  if (mode_ == Mode::kBuffer) {
    Done done = std::move(done_);
    return done(Result{errors::UpstreamReset(), {}});
  }
  auto hold = std::move(hold_);
  downstream_->Abort(status);
}

// ---------------------------------------------------------------------------------------------
// Connection.

void UpstreamCall::Acquire() {
  auto now = std::chrono::steady_clock::now();
  std::optional<Balancer::Choice> choice = worker_.balancer().Pick(app_, tried_, now);
  if (!choice) {
    // Every endpoint was tried (an app has at least one).
    return Fail(last_connect_error_ ? *last_connect_error_
                                    : errors::UpstreamUnreachable("no endpoint left to try"));
  }
  if (choice->panic)
    worker_.metrics().upstream_panic_picks().fetch_add(1, std::memory_order_relaxed);
  tried_.push_back(choice->index);
  endpoint_ = &app_.endpoints[choice->index];
  if (auto conn = worker_.pool().TakeIdle(endpoint_->key)) {
    return OnConnected({}, std::move(conn));
  }
  Connect();
}

void UpstreamCall::Connect() {
  worker_.pool().Connect(
      *endpoint_, app_.connect_timeout,
      [self = shared_from_this()](beast::error_code ec, std::unique_ptr<UpstreamConnection> conn) {
        self->OnConnected(ec, std::move(conn));
      });
}

void UpstreamCall::OnConnected(beast::error_code ec, std::unique_ptr<UpstreamConnection> conn) {
  if (client_gone()) {
    // The client left while this connection was being opened or waited for: it is unused.
    if (conn) worker_.pool().Release(std::move(conn), /*reusable=*/true);
    return Abort(0);
  }
  if (ec.category() == PoolErrorCategory()) {
    // The endpoint is at its connection cap and no connection came free: overload, not a
    // failure of the backend, so nothing is ejected and nothing retried.
    app_.stats->RecordUpstreamError(UpstreamError::kOverloaded);
    return Fail(errors::UpstreamOverloaded(ec.message()));
  }
  if (ec) {
    const bool tls = IsTlsError(ec);
    app_.stats->RecordUpstreamError(tls ? UpstreamError::kTls : UpstreamError::kConnect);
    bool timeout = ec == beast::error::timeout;
    // A connect that times out while other connections to the endpoint are up means a busy
    // backend (a full accept queue), not a gone one: it does not count toward ejection.
    if (!timeout || worker_.pool().EstablishedCount(endpoint_->key) == 0) {
      if (worker_.balancer().RecordFailure(*endpoint_, std::chrono::steady_clock::now())) {
        worker_.metrics().upstream_ejections().fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (tls) {
      last_connect_error_ = errors::BackendTlsFailed(endpoint_->key + ": " + ec.message());
    } else if (timeout) {
      last_connect_error_ = errors::UpstreamTimeout();
    } else {
      last_connect_error_ = errors::UpstreamUnreachable(endpoint_->key + ": " + ec.message());
    }
    // A connection that never opened carried nothing: retrying elsewhere is always safe.
    if (tried_.size() < 2) return Acquire();
    return Fail(*last_connect_error_);
  }
  upstream_ = std::move(conn);
  upstream_reused_ = upstream_->uses > 0;
  EndpointState& state = worker_.balancer().StateOf(*endpoint_);
  state.outstanding++;
  worker_.balancer().RecordSuccess(state);
  SendRequestHeader();
}

void UpstreamCall::Release(bool reusable) {
  if (!upstream_) return;
  // After an answer to a request whose body was not sent whole, the connection is unusable.
  bool reuse = reusable && !client_gone() && !early_answer_;
  worker_.pool().Release(Detach(), reuse);
}

std::unique_ptr<UpstreamConnection> UpstreamCall::Detach() {
  EndpointState& state = worker_.balancer().StateOf(*endpoint_);
  if (state.outstanding > 0) state.outstanding--;
  return std::move(upstream_);
}

// ---------------------------------------------------------------------------------------------
// Request.

void UpstreamCall::SendRequestHeader() {
  auto& req = *request_;
  req.target(UpstreamTarget(endpoint_->path_prefix, *target_));
  req.set(http::field::host, endpoint_->host_header);
  SerializeRequestHead(req.method_string(), req.target(), req, request_head_);
  if (mode_ == Mode::kBuffer) {
    // The head and the held body leave in one write.
    std::array<asio::const_buffer, 2> pieces{
        asio::buffer(*request_head_),
        asio::buffer(own_request_.body().data(), own_request_.body().size())};
    upstream_->stream.expires_after(worker_.options().upstream_io_timeout);
    return asio::async_write(
        upstream_->stream, pieces, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) {
            if (self->RetryOnFreshConnection(ec)) return;
            return self->FailUpstream(errors::UpstreamReset(), UpstreamError::kReset);
          }
          self->ReadResponseHeader();
        });
  }
  // With a body the relay writes the header, with the first body bytes when they are at hand.
  if (request_has_body_ && !expects_continue_) return StartRequestRelay(*request_head_);
  upstream_->stream.expires_after(worker_.options().upstream_io_timeout);
  asio::async_write(
      upstream_->stream, asio::buffer(*request_head_),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequestHeaderSent(ec); });
}

void UpstreamCall::OnRequestHeaderSent(beast::error_code ec) {
  if (ec) {
    if (RetryOnFreshConnection(ec)) return;
    return FailUpstream(errors::UpstreamReset(), UpstreamError::kReset);
  }
  if (!request_has_body_) return ReadResponseHeader();
  if (expects_continue_) {
    // The backend sees no Expect; the client is told to go on once a backend is connected.
    expects_continue_ = false;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    MaybeTlsStream& client = downstream_->stream();
    client.expires_after(worker_.options().client_timeout);
    return asio::async_write(
        client, asio::buffer(kContinue.data(), kContinue.size()),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnContinueSent(ec); });
  }
  StartRequestRelay({});
}

void UpstreamCall::OnContinueSent(beast::error_code ec) {
  if (ec) {
    Release(false);
    return Abort(0);
  }
  OnRequestHeaderSent({});
}

void UpstreamCall::StartRequestRelay(std::string_view head) {
  beast::flat_buffer& client_buffer = downstream_->buffer();
  client_buffer.reserve(kBodyReadBytes);
  request_relay_.Start(
      {&downstream_->stream(), &client_buffer, &exchange_->request, &upstream_->stream,
       worker_.options().client_timeout, worker_.options().upstream_io_timeout},
      head, exchange_->request.chunked(), downstream_->RelayBuffer(), Worker::kRelayBufferBytes);
}

void UpstreamCall::OnRequestBodyRelayed(beast::error_code ec, RelaySide side) {
  if (!ec) return ReadResponseHeader();
  if (side == RelaySide::kOutput && !client_gone()) {
    // The backend stopped reading: it may have answered early (413, 401). Forward that answer
    // if there is one; the client's unread body means the connection closes afterwards.
    exchange_->keep_alive = false;
    early_answer_ = true;
    return ReadResponseHeader();
  }
  Release(false);
  if (ec == http::error::body_limit) return Fail(errors::BodyTooLarge());
  // The client stopped sending its body for longer than the client timeout (nginx's
  // client_body_timeout): 408, and the connection closes (the body is unread).
  if (ec == beast::error::timeout) return Fail(errors::RequestTimeout());
  if (IsHttpParseError(ec) && !IsConnectionLoss(ec)) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    return Fail(errors::BadRequest("malformed request body: " + ec.message()));
  }
  Abort(0);  // The client went away mid-body.
}

// ---------------------------------------------------------------------------------------------
// Answer.

void UpstreamCall::ReadResponseHeader() {
  response_.emplace();
  response_->header_limit(worker_.options().max_upstream_response_header_bytes);
  // Streamed, never held whole. Not boost::none: Beast 1.74 compares a length against an empty
  // optional and refuses every Content-Length body.
  response_->body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head_request_) response_->skip(true);
  // One deadline for the answer's header, however many interim answers come first.
  if (interim_responses_ == 0) {
    response_deadline_ = std::chrono::steady_clock::now() + response_timeout_;
  }
  upstream_->stream.expires_at(response_deadline_);
  http::async_read_header(
      upstream_->stream, upstream_->buffer, *response_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnResponseHeader(ec); });
}

void UpstreamCall::OnResponseHeader(beast::error_code ec) {
  if (ec) {
    if (client_gone()) {
      Release(false);
      return Abort(0);
    }
    if (early_answer_) {
      app_.stats->RecordUpstreamError(UpstreamError::kReset);
      Release(false);
      return Fail(errors::UpstreamReset());
    }
    if (RetryOnFreshConnection(ec)) return;
    if (ec == beast::error::timeout) {
      return FailUpstream(errors::UpstreamTimeout(), UpstreamError::kTimeout);
    }
    if (IsHttpParseError(ec) && !IsConnectionLoss(ec)) {
      return FailUpstream(errors::BadUpstreamResponse(ec.message()), UpstreamError::kBadResponse);
    }
    return FailUpstream(errors::UpstreamReset(), UpstreamError::kReset);
  }
  int status = response_->get().result_int();
  if (status == 101) {
    // Only an answer to a request that asked to upgrade may switch protocols.
    if (upgrade_ && mode_ == Mode::kStream && !early_answer_) return SwitchProtocols();
    return FailUpstream(errors::BadUpstreamResponse("unexpected 101 Switching Protocols"),
                        UpstreamError::kBadResponse);
  }
  if (status >= 100 && status < 200) {
    // Interim: wait for the final answer.
    if (++interim_responses_ > kMaxInterimResponses) {
      return FailUpstream(errors::BadUpstreamResponse("too many interim (1xx) answers"),
                          UpstreamError::kBadResponse);
    }
    return ReadResponseHeader();
  }
  if (mode_ == Mode::kBuffer) return ReadBufferedBody();
  StreamResponse();
}

void UpstreamCall::SwitchProtocols() {
  auto& res = response_->get();
  // Upgrade and Connection are hop-by-hop, but a switch needs them on both hops.
  std::string upgrade(res[http::field::upgrade]);
  StripHopByHop(res);
  if (upgrade.empty()) {
    return FailUpstream(errors::BadUpstreamResponse("101 Switching Protocols without Upgrade"),
                        UpstreamError::kBadResponse);
  }
  res.set(http::field::upgrade, upgrade);
  res.set(http::field::connection, "upgrade");
  exchange_->response_fields.ApplyTo(res);
  SerializeResponseHead(101, res.reason(), res, response_head_);
  MaybeTlsStream& client = downstream_->stream();
  client.expires_after(worker_.options().client_timeout);
  asio::async_write(client, asio::buffer(*response_head_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) {
                        self->Release(false);
                        return self->Abort(101);
                      }
                      self->ended_ = true;
                      auto hold = std::move(self->hold_);
                      self->downstream_->Tunnel(self->Detach());
                    });
}

void UpstreamCall::StreamResponse() {
  auto& res = response_->get();
  int status = res.result_int();
  // One relaxed load unless the app is being recorded.
  if (worker_.recorder().active()) {
    capture_ = worker_.recorder().Claim(app_.name);
    if (capture_) {
      capture_->method = std::string(request_->method_string());
      capture_->path = exchange_->target.rest;
      capture_->status = static_cast<unsigned>(status);
      AnswerRecorder::CaptureHeaders(res, *capture_);
    }
  }
  no_body_response_ = head_request_ || status == 204 || status == 304;
  boost::optional<uint64_t> length = response_->content_length();
  StripHopByHop(res);
  exchange_->response_fields.ApplyTo(res);
  res.version(11);
  bool keep_alive = exchange_->keep_alive && !worker_.draining();
  if (no_body_response_) {
    if (head_request_ && length) res.content_length(*length);
  } else if (length) {
    res.content_length(*length);
  } else if (!exchange_->client_http10) {
    res.chunked(true);  // Chunked or close-delimited upstream: chunked to the client.
  } else {
    keep_alive = false;  // An HTTP/1.0 client: the close ends the body.
  }
  res.keep_alive(keep_alive);
  if (keep_alive && exchange_->client_http10) res.set(http::field::connection, "keep-alive");
  exchange_->keep_alive = keep_alive;
  SerializeResponseHead(static_cast<unsigned>(status), res.reason(), res, response_head_);
  MaybeTlsStream& client = downstream_->stream();
  if (!no_body_response_) {
    if (capture_) {
      response_relay_.Tap(&capture_->body, capture_->max_body_bytes, &capture_->body_too_large);
    }
    // The relay writes the header, with the first body bytes when they are at hand.
    response_relay_.Start({&upstream_->stream, &upstream_->buffer, &*response_, &client,
                           worker_.options().upstream_io_timeout, worker_.options().client_timeout},
                          *response_head_, res.chunked(), downstream_->RelayBuffer(),
                          Worker::kRelayBufferBytes);
    return;
  }
  client.expires_after(worker_.options().client_timeout);
  asio::async_write(client, asio::buffer(*response_head_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->OnResponseHeaderSent(ec);
                    });
}

void UpstreamCall::OnResponseHeaderSent(beast::error_code ec) {
  // Only answers without a body come here.
  int status = response_->get().result_int();
  if (ec) {
    Release(false);
    return Abort(0);
  }
  Release(response_->is_done() && response_->keep_alive() && upstream_->buffer.size() == 0);
  DeliverCapture();
  Finished(status);
}

void UpstreamCall::DeliverCapture() {
  if (!capture_) return;
  worker_.recorder().Deliver(*capture_);
  capture_.reset();
}

void UpstreamCall::OnResponseBodyRelayed(beast::error_code ec, RelaySide side) {
  int status = response_->get().result_int();
  if (ec) {
    // The header is out: all that can be said now is a cut connection.
    if (side == RelaySide::kInput) {
      app_.stats->RecordUpstreamError(ec == beast::error::timeout ? UpstreamError::kTimeout
                                                                  : UpstreamError::kReset);
    }
    Release(false);
    return Abort(status);
  }
  Release(response_->keep_alive() && upstream_->buffer.size() == 0);
  DeliverCapture();
  Finished(status);
}

void UpstreamCall::ReadBufferedBody() {
  // The header is parsed; the same parser reads the body into memory from here.
  buffered_.emplace(std::move(*response_));
  response_.reset();
  // The parser checked a Content-Length against the limit it had when the header came: check
  // it against this one. Chunked and close-delimited bodies are counted as they arrive.
  buffered_->body_limit(max_body_bytes_);
  auto too_large = [this] {
    FailUpstream(errors::BadUpstreamResponse("the answer is larger than " +
                                             std::to_string(max_body_bytes_) + " bytes"),
                 UpstreamError::kBadResponse);
  };
  if (auto length = buffered_->content_length(); length && *length > max_body_bytes_) {
    return too_large();
  }
  upstream_->stream.expires_at(response_deadline_);
  http::async_read(
      upstream_->stream, upstream_->buffer, *buffered_,
      [self = shared_from_this(), too_large](beast::error_code ec, size_t) {
        if (ec == http::error::body_limit) return too_large();
        if (ec == beast::error::timeout) {
          return self->FailUpstream(errors::UpstreamTimeout(), UpstreamError::kTimeout);
        }
        if (IsHttpParseError(ec) && !IsConnectionLoss(ec)) {
          return self->FailUpstream(errors::BadUpstreamResponse(ec.message()),
                                    UpstreamError::kBadResponse);
        }
        if (ec) return self->FailUpstream(errors::UpstreamReset(), UpstreamError::kReset);
        int status = self->buffered_->get().result_int();
        self->Release(self->buffered_->keep_alive() && self->upstream_->buffer.size() == 0);
        self->Finished(status);
      });
}

bool UpstreamCall::RetryOnFreshConnection(beast::error_code ec) {
  // A pooled connection the backend closed just as it was reused: the request carried no body
  // and no answer began, so sending it again on a new connection is safe.
  if (!upstream_reused_ || fresh_retry_used_ || request_has_body_ || !IsConnectionLoss(ec) ||
      !IsIdempotent(request_->method()) || interim_responses_ > 0) {
    return false;
  }
  if (response_ && response_->got_some()) return false;
  fresh_retry_used_ = true;
  upstream_reused_ = false;
  Release(false);
  Connect();
  return true;
}

void UpstreamCall::FailUpstream(const GatewayError& error, UpstreamError kind) {
  app_.stats->RecordUpstreamError(kind);
  Release(false);
  Fail(error);
}

}  // namespace valet
