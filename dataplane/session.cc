#include "dataplane/session.h"

#include <limits>

#include "boost/asio/write.hpp"
#include "boost/beast/core/string.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "common/http_framing.h"
#include "dataplane/http_fields.h"
#include "dataplane/http_head.h"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Socket reads ask for this much: Beast reads max(512, free capacity) at a time, so a buffer
// with room takes a header and a small body in one recv(2).
constexpr size_t kClientReadBytes = 2 * 1024;
constexpr size_t kBodyReadBytes = 16 * 1024;
// A client buffer grown past this by a body is given back once the exchange ends.
constexpr size_t kClientBufferKeepBytes = 4 * 1024;
// Interim (1xx) answers tolerated before the final one.
constexpr int kMaxInterimResponses = 8;
// After refusing a request whose body is unread, read and drop at most this much (for at most
// kLingerTime) before closing, so the client sees the answer instead of a reset.
constexpr size_t kLingerMaxBytes = 1 << 20;
constexpr std::chrono::seconds kLingerTime{2};

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
         ec == http::error::partial_message;
}

}  // namespace

Session::Session(Worker& worker, TcpSocket socket) : worker_(worker), client_(std::move(socket)) {
  beast::error_code ec;
  tcp::endpoint remote = client_.socket().remote_endpoint(ec);
  client_ip_ = ec ? "unknown" : remote.address().to_string();
  client_.socket().set_option(tcp::no_delay(true), ec);
  client_buffer_.reserve(kClientReadBytes);
  worker_.AddSession(this);
  worker_.metrics().active_connections().fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  if (upstream_) ReleaseUpstream(false);
  if (relay_buffer_) worker_.ReleaseRelayBuffer(std::move(relay_buffer_));
  worker_.RemoveSession(this);
  worker_.metrics().active_connections().fetch_sub(1, std::memory_order_relaxed);
}

void Session::Start() { ReadRequestHeader(); }

void Session::OnDrain() {
  // Idle means no byte of a next request has arrived; a half-read header is let finish.
  if (idle_ && client_buffer_.size() == 0) Close();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  // Only cancel here: pending operations still reference the streams and buffers, which die
  // with the session once those operations have completed.
  beast::error_code ignored;
  client_.socket().close(ignored);
  if (upstream_) upstream_->stream.socket().close(ignored);
}

char* Session::RelayBuffer() {
  if (!relay_buffer_) relay_buffer_ = worker_.AcquireRelayBuffer();
  return relay_buffer_.get();
}

// ---------------------------------------------------------------------------------------------
// Client side.

void Session::ReadRequestHeader() {
  if (closed_) return;
  request_.emplace();
  request_->header_limit(worker_.options().max_header_bytes);
  request_->body_limit(worker_.options().max_body_bytes);
  idle_ = client_buffer_.size() == 0;
  if (idle_ && worker_.draining()) return Close();
  client_.expires_after(worker_.options().client_timeout);
  http::async_read_header(
      client_, client_buffer_, *request_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequestHeader(ec); });
}

void Session::OnRequestHeader(beast::error_code ec) {
  idle_ = false;
  started_ = std::chrono::steady_clock::now();
  if (ec) {
    if (closed_ || ec == asio::error::operation_aborted) return Close();
    if (ec == http::error::header_limit) {
      worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
      return SendError(errors::HeaderTooLarge());
    }
    if (ec == http::error::body_limit) return SendError(errors::BodyTooLarge());
    if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
      return SendError(errors::BadRequest("malformed request: " + ec.message()));
    }
    // The client went away, or stayed silent past the deadline (an idle keep-alive
    // connection, or a header that never finished). Nothing to answer.
    return Close();
  }
  HandleRequest();
}

void Session::HandleRequest() {
  auto& req = request_->get();
  client_keep_alive_ = req.keep_alive() && !worker_.draining();
  client_http10_ = req.version() < 11;
  head_request_ = req.method() == http::verb::head;

  // Stage: framing. Ambiguous framing is refused, never passed on.
  absl::Status framing = CheckFraming(req);
  if (framing.ok()) framing = CheckHost(req, req.version());
  if (!framing.ok()) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    client_keep_alive_ = false;
    return SendError(errors::BadRequest(std::string(framing.message())));
  }

  // Stage: route. The snapshot is pinned until the exchange ends.
  absl::StatusOr<RequestTarget> target = ParseRequestTarget(req.target());
  if (!target.ok()) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    return SendError(errors::BadRequest(std::string(target.status().message())));
  }
  target_ = std::move(*target);
  snapshot_ = worker_.snapshot();
  if (!snapshot_) return SendError(errors::NotReady());
  app_ = snapshot_->Find(target_.app);
  if (app_ == nullptr) return SendError(errors::UnknownApp(target_.app));

  // Stages of later releases slot in here: auth (the app's key header), then the rate limit.

  // Stage: upstream. Prepare the request for the next hop in place.
  request_has_body_ = !request_->is_done();
  auto expect = req.find(http::field::expect);
  // RFC 9110 10.1.1: an HTTP/1.0 client's Expect is ignored.
  expects_continue_ = expect != req.end() && beast::iequals(expect->value(), "100-continue") &&
                      request_has_body_ && !client_http10_;
  req.erase(http::field::expect);
  // Strip first: a client must not be able to name the gateway's own fields in Connection.
  StripHopByHop(req);
  SetForwardedFields(req, client_ip_, "http");
  req.version(11);
  if (auto length = request_->content_length()) {
    req.content_length(*length);
  } else if (request_->chunked()) {
    req.chunked(true);
  }
  AcquireUpstream();
}

void Session::SendError(const GatewayError& error) {
  // The connection stays open only if the request was read whole.
  bool keep_alive = client_keep_alive_ && request_ && request_->is_header_done() &&
                    request_->is_done() && !worker_.draining();
  error_response_.emplace(MakeErrorResponse(error, target_.app, keep_alive));
  if (head_request_) {
    // The length of the answer a GET would get, and no body.
    size_t length = error_response_->body().size();
    error_response_->body().clear();
    error_response_->content_length(length);
  }
  RecordRequest(error.status);
  client_.expires_after(worker_.options().client_timeout);
  http::async_write(client_, *error_response_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      self->OnErrorSent(ec, keep_alive);
                    });
}

void Session::OnErrorSent(beast::error_code ec, bool keep_alive) {
  if (ec) return Close();
  EndExchange(keep_alive);
}

void Session::EndExchange(bool keep_alive) {
  response_.reset();
  error_response_.reset();
  snapshot_.reset();
  app_ = nullptr;
  endpoint_ = nullptr;
  tried_.clear();
  last_connect_error_.reset();
  upstream_reused_ = fresh_retry_used_ = request_has_body_ = expects_continue_ = false;
  head_request_ = client_http10_ = no_body_response_ = early_answer_ = false;
  interim_responses_ = 0;
  target_ = RequestTarget();
  if (relay_buffer_) worker_.ReleaseRelayBuffer(std::move(relay_buffer_));
  if (client_buffer_.size() == 0 && client_buffer_.capacity() > kClientBufferKeepBytes) {
    client_buffer_ = beast::flat_buffer();
    client_buffer_.reserve(kClientReadBytes);
  }
  if (closed_) return;
  if (keep_alive && !worker_.draining()) return ReadRequestHeader();
  request_.reset();
  beast::error_code ignored;
  client_.socket().shutdown(TcpSocket::shutdown_send, ignored);
  // Read and drop what the client still sends (an unread body, pipelined requests) before
  // closing: closing with unread bytes resets the connection and can destroy our answer.
  client_.expires_after(kLingerTime);
  Linger(0);
}

void Session::Linger(size_t discarded) {
  if (closed_ || discarded >= kLingerMaxBytes) return Close();
  // One deadline for the whole linger (set by the caller), not one per read.
  client_.async_read_some(asio::buffer(RelayBuffer(), Worker::kRelayBufferBytes),
                          [self = shared_from_this(), discarded](beast::error_code ec, size_t n) {
                            if (ec) return self->Close();
                            self->Linger(discarded + n);
                          });
}

void Session::RecordRequest(int status) {
  AppStats& stats = app_ != nullptr ? *app_->stats : worker_.metrics().unrouted();
  stats.RecordRequest(status, std::chrono::steady_clock::now() - started_);
}

// ---------------------------------------------------------------------------------------------
// Backend side.

void Session::AcquireUpstream() {
  auto now = std::chrono::steady_clock::now();
  std::optional<Balancer::Choice> choice = worker_.balancer().Pick(*app_, tried_, now);
  if (!choice) {
    // Every endpoint was tried (an app has at least one).
    return SendError(last_connect_error_ ? *last_connect_error_
                                         : errors::UpstreamUnreachable("no endpoint left to try"));
  }
  if (choice->panic)
    worker_.metrics().upstream_panic_picks().fetch_add(1, std::memory_order_relaxed);
  tried_.push_back(choice->index);
  endpoint_ = &app_->endpoints[choice->index];
  if (auto conn = worker_.pool().TakeIdle(endpoint_->key)) {
    return OnUpstreamConnected({}, std::move(conn));
  }
  ConnectUpstream();
}

void Session::ConnectUpstream() {
  worker_.pool().Connect(
      *endpoint_, app_->connect_timeout,
      [self = shared_from_this()](beast::error_code ec, std::unique_ptr<UpstreamConnection> conn) {
        self->OnUpstreamConnected(ec, std::move(conn));
      });
}

void Session::OnUpstreamConnected(beast::error_code ec, std::unique_ptr<UpstreamConnection> conn) {
  if (closed_) {
    // The client left while this connection was being opened or waited for: it is unused.
    if (conn) worker_.pool().Release(std::move(conn), /*reusable=*/true);
    return;
  }
  if (ec.category() == PoolErrorCategory()) {
    // The endpoint is at its connection cap and no connection came free: overload, not a
    // failure of the backend, so nothing is ejected and nothing retried.
    app_->stats->RecordUpstreamError(UpstreamError::kOverloaded);
    return SendError(errors::UpstreamOverloaded(ec.message()));
  }
  if (ec) {
    app_->stats->RecordUpstreamError(UpstreamError::kConnect);
    bool timeout = ec == beast::error::timeout;
    // A connect that times out while other connections to the endpoint are up means a busy
    // backend (a full accept queue), not a gone one: it does not count toward ejection.
    if (!timeout || worker_.pool().EstablishedCount(endpoint_->key) == 0) {
      if (worker_.balancer().RecordFailure(*endpoint_, std::chrono::steady_clock::now())) {
        worker_.metrics().upstream_ejections().fetch_add(1, std::memory_order_relaxed);
      }
    }
    last_connect_error_ = timeout
                              ? errors::UpstreamTimeout()
                              : errors::UpstreamUnreachable(endpoint_->key + ": " + ec.message());
    // A connection that never opened carried nothing: retrying elsewhere is always safe.
    if (tried_.size() < 2) return AcquireUpstream();
    return SendError(*last_connect_error_);
  }
  upstream_ = std::move(conn);
  upstream_reused_ = upstream_->uses > 0;
  EndpointState& state = worker_.balancer().StateOf(*endpoint_);
  state.outstanding++;
  worker_.balancer().RecordSuccess(state);
  SendRequestHeader();
}

void Session::SendRequestHeader() {
  auto& req = request_->get();
  req.target(UpstreamTarget(endpoint_->path_prefix, target_));
  req.set(http::field::host, endpoint_->host_header);
  SerializeRequestHead(req.method_string(), req.target(), req, &request_head_);
  // With a body the relay writes the header, with the first body bytes when they are at hand.
  if (request_has_body_ && !expects_continue_) return StartRequestRelay(request_head_);
  upstream_->stream.expires_after(worker_.options().upstream_io_timeout);
  asio::async_write(
      upstream_->stream, asio::buffer(request_head_),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequestHeaderSent(ec); });
}

void Session::OnRequestHeaderSent(beast::error_code ec) {
  if (ec) {
    if (RetryOnFreshConnection(ec)) return;
    return FailUpstream(errors::UpstreamReset(), UpstreamError::kReset);
  }
  if (!request_has_body_) return ReadResponseHeader();
  if (expects_continue_) {
    // The backend sees no Expect; the client is told to go on once a backend is connected.
    expects_continue_ = false;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    client_.expires_after(worker_.options().client_timeout);
    return asio::async_write(
        client_, asio::buffer(kContinue.data(), kContinue.size()),
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnContinueSent(ec); });
  }
  StartRequestRelay({});
}

void Session::StartRequestRelay(std::string_view head) {
  client_buffer_.reserve(kBodyReadBytes);
  request_relay_.Start({&client_, &client_buffer_, &*request_, &upstream_->stream,
                        worker_.options().client_timeout, worker_.options().upstream_io_timeout},
                       head, request_->chunked(), RelayBuffer(), Worker::kRelayBufferBytes);
}

void Session::OnContinueSent(beast::error_code ec) {
  if (ec) return Close();
  OnRequestHeaderSent({});
}

void Session::OnRequestBodyRelayed(beast::error_code ec, RelaySide side) {
  if (!ec) return ReadResponseHeader();
  if (side == RelaySide::kOutput && !closed_) {
    // The backend stopped reading: it may have answered early (413, 401). Forward that answer
    // if there is one; the client's unread body means the connection closes afterwards.
    client_keep_alive_ = false;
    early_answer_ = true;
    return ReadResponseHeader();
  }
  ReleaseUpstream(false);
  if (ec == http::error::body_limit) return SendError(errors::BodyTooLarge());
  if (IsHttpParseError(ec) && !IsConnectionLoss(ec)) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    return SendError(errors::BadRequest("malformed request body: " + ec.message()));
  }
  Close();  // The client went away mid-body.
}

void Session::ReadResponseHeader() {
  response_.emplace();
  response_->header_limit(worker_.options().max_upstream_response_header_bytes);
  // Streamed, never held whole. Not boost::none: Beast 1.74 compares a length against an empty
  // optional and refuses every Content-Length body.
  response_->body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head_request_) response_->skip(true);
  // One deadline for the answer's header, however many interim answers come first.
  if (interim_responses_ == 0) {
    response_deadline_ = std::chrono::steady_clock::now() + app_->request_timeout;
  }
  upstream_->stream.expires_at(response_deadline_);
  http::async_read_header(
      upstream_->stream, upstream_->buffer, *response_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnResponseHeader(ec); });
}

void Session::OnResponseHeader(beast::error_code ec) {
  if (ec) {
    if (closed_) return;
    if (early_answer_) {
      app_->stats->RecordUpstreamError(UpstreamError::kReset);
      ReleaseUpstream(false);
      return SendError(errors::UpstreamReset());
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
  auto& res = response_->get();
  int status = res.result_int();
  if (status == 101) {
    // Upgrade is hop-by-hop and never forwarded, so a switch is a broken answer.
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

  no_body_response_ = head_request_ || status == 204 || status == 304;
  boost::optional<uint64_t> length = response_->content_length();
  StripHopByHop(res);
  res.version(11);
  bool keep_alive = client_keep_alive_ && !worker_.draining();
  if (no_body_response_) {
    if (head_request_ && length) res.content_length(*length);
  } else if (length) {
    res.content_length(*length);
  } else if (!client_http10_) {
    res.chunked(true);  // Chunked or close-delimited upstream: chunked to the client.
  } else {
    keep_alive = false;  // An HTTP/1.0 client: the close ends the body.
  }
  res.keep_alive(keep_alive);
  if (keep_alive && client_http10_) res.set(http::field::connection, "keep-alive");
  client_keep_alive_ = keep_alive;
  SerializeResponseHead(static_cast<unsigned>(status), res.reason(), res, &response_head_);
  if (!no_body_response_) {
    // The relay writes the header, with the first body bytes when they are at hand.
    response_relay_.Start({&upstream_->stream, &upstream_->buffer, &*response_, &client_,
                           worker_.options().upstream_io_timeout, worker_.options().client_timeout},
                          response_head_, res.chunked(), RelayBuffer(), Worker::kRelayBufferBytes);
    return;
  }
  client_.expires_after(worker_.options().client_timeout);
  asio::async_write(client_, asio::buffer(response_head_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->OnResponseHeaderSent(ec);
                    });
}

void Session::OnResponseHeaderSent(beast::error_code ec) {
  // Only answers without a body come here.
  if (ec) {
    ReleaseUpstream(false);
    return Close();
  }
  ReleaseUpstream(response_->is_done() && response_->keep_alive() && upstream_->buffer.size() == 0);
  RecordRequest(response_->get().result_int());
  EndExchange(client_keep_alive_);
}

void Session::OnResponseBodyRelayed(beast::error_code ec, RelaySide side) {
  int status = response_->get().result_int();
  if (ec) {
    // The header is out: all that can be said now is a cut connection.
    if (side == RelaySide::kInput) {
      app_->stats->RecordUpstreamError(ec == beast::error::timeout ? UpstreamError::kTimeout
                                                                   : UpstreamError::kReset);
    }
    ReleaseUpstream(false);
    RecordRequest(status);
    return Close();
  }
  ReleaseUpstream(response_->keep_alive() && upstream_->buffer.size() == 0);
  RecordRequest(status);
  EndExchange(client_keep_alive_);
}

bool Session::RetryOnFreshConnection(beast::error_code ec) {
  // A pooled connection the backend closed just as it was reused: the request carried no body
  // and no answer began, so sending it again on a new connection is safe.
  if (!upstream_reused_ || fresh_retry_used_ || request_has_body_ || !IsConnectionLoss(ec) ||
      !IsIdempotent(request_->get().method()) || interim_responses_ > 0) {
    return false;
  }
  if (response_ && response_->got_some()) return false;
  fresh_retry_used_ = true;
  upstream_reused_ = false;
  ReleaseUpstream(false);
  ConnectUpstream();
  return true;
}

void Session::FailUpstream(const GatewayError& error, UpstreamError kind) {
  app_->stats->RecordUpstreamError(kind);
  ReleaseUpstream(false);
  SendError(error);
}

void Session::ReleaseUpstream(bool reusable) {
  if (!upstream_) return;
  EndpointState& state = worker_.balancer().StateOf(*endpoint_);
  if (state.outstanding > 0) state.outstanding--;
  // After an answer to a request whose body was not sent whole, the connection is unusable.
  worker_.pool().Release(std::move(upstream_), reusable && !closed_ && !early_answer_);
}

}  // namespace valet
