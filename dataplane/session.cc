#include "dataplane/session.h"

#include "boost/asio/write.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/write.hpp"
#include "common/http_framing.h"
#include "dataplane/fanout/fanout_call.h"
#include "dataplane/http_fields.h"
#include "dataplane/pipeline/pipeline.h"
#include "dataplane/tls/server_certificates.h"
#include "dataplane/tunnel.h"
#include "dataplane/upstream/upstream_call.h"
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
// A client buffer grown past this by a body is given back once the exchange ends.
constexpr size_t kClientBufferKeepBytes = 4 * 1024;
// After refusing a request whose body is unread, read and drop at most this much (for at most
// kLingerTime) before closing, so the client sees the answer instead of a reset.
constexpr size_t kLingerMaxBytes = 1 << 20;
constexpr std::chrono::seconds kLingerTime{2};

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

Session::Session(Worker& worker, TcpSocket socket, std::shared_ptr<const ServerCertificates> tls)
    : worker_(worker), client_(std::move(socket)) {
  beast::error_code ec;
  tcp::endpoint remote = client_.socket().remote_endpoint(ec);
  client_ip_ = ec ? "unknown" : remote.address().to_string();
  client_.socket().set_option(tcp::no_delay(true), ec);
  client_buffer_.reserve(kClientReadBytes);
  worker_.AddSession(this);
  worker_.metrics().active_connections().fetch_add(1, std::memory_order_relaxed);
  if (tls != nullptr) {
    // The handshake starts with the default certificate's context; SNI may switch it.
    boost::asio::ssl::context& context = tls->handshake_context();
    client_.UseTls(context, std::move(tls));
  }
}

Session::~Session() {
  exchange_.reset();  // Its upstream call gives its connection back first.
  if (relay_buffer_) worker_.ReleaseRelayBuffer(std::move(relay_buffer_));
  worker_.RemoveSession(this);
  worker_.metrics().active_connections().fetch_sub(1, std::memory_order_relaxed);
}

void Session::Start() {
  if (!client_.is_tls()) return ReadRequestHeader();
  // A client that never finishes its handshake is cut off at the deadline.
  client_.expires_after(worker_.options().tls_handshake_timeout);
  client_.tls()->async_handshake(boost::asio::ssl::stream_base::server, [self = shared_from_this()](
                                                                            beast::error_code ec) {
    if (ec) {
      if (!self->closed_) {
        self->worker_.metrics().tls_handshake_failures().fetch_add(1, std::memory_order_relaxed);
      }
      return self->Close();
    }
    self->ReadRequestHeader();
  });
}

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
  if (exchange_ && exchange_->upstream) exchange_->upstream->Cancel();
  if (exchange_ && exchange_->fanout) exchange_->fanout->Cancel();
  if (auto tunnel = tunnel_.lock()) tunnel->Stop();
}

char* Session::RelayBuffer() {
  if (!relay_buffer_) relay_buffer_ = worker_.AcquireRelayBuffer();
  return relay_buffer_.get();
}

// ---------------------------------------------------------------------------------------------
// Reading a request.

void Session::ReadRequestHeader() {
  if (closed_) return;
  exchange_.emplace();
  exchange_->request.header_limit(worker_.options().max_header_bytes);
  exchange_->request.body_limit(worker_.options().max_body_bytes);
  idle_ = client_buffer_.size() == 0;
  if (idle_ && worker_.draining()) return Close();
  client_.expires_after(worker_.options().client_timeout);
  http::async_read_header(
      client_, client_buffer_, exchange_->request,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequestHeader(ec); });
}

void Session::OnRequestHeader(beast::error_code ec) {
  idle_ = false;
  exchange_->started = std::chrono::steady_clock::now();
  if (ec) {
    if (closed_ || ec == asio::error::operation_aborted) return Close();
    if (ec == http::error::header_limit) {
      worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
      return Fail(errors::HeaderTooLarge());
    }
    if (ec == http::error::body_limit) return Fail(errors::BodyTooLarge());
    if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
      return Fail(errors::BadRequest("malformed request: " + ec.message()));
    }
    // The client went away, or stayed silent past the deadline (an idle keep-alive
    // connection, or a header that never finished). Nothing to answer.
    return Close();
  }
  Route();
}

void Session::Route() {
  Exchange& exchange = *exchange_;
  auto& req = exchange.request.get();
  exchange.keep_alive = req.keep_alive() && !worker_.draining();
  exchange.client_http10 = req.version() < 11;
  exchange.head_request = req.method() == http::verb::head;

  // Ambiguous framing is refused, never passed on.
  absl::Status framing = CheckFraming(req);
  if (framing.ok()) framing = CheckHost(req, req.version());
  if (!framing.ok()) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    exchange.keep_alive = false;
    return Fail(errors::BadRequest(std::string(framing.message())));
  }

  absl::StatusOr<RequestTarget> target = ParseRequestTarget(req.target());
  if (!target.ok()) {
    worker_.metrics().malformed_requests().fetch_add(1, std::memory_order_relaxed);
    return Fail(errors::BadRequest(std::string(target.status().message())));
  }
  exchange.target = std::move(*target);
  exchange.snapshot = worker_.snapshot();
  if (!exchange.snapshot) return Fail(errors::NotReady());
  exchange.app = exchange.snapshot->Find(exchange.target.app);
  if (exchange.app == nullptr) return Fail(errors::UnknownApp(exchange.target.app));

  RunPipeline(*exchange.app->pipeline, exchange, *this);
}

// ---------------------------------------------------------------------------------------------
// Ending an exchange.

void Session::Fail(const GatewayError& error) {
  answer_.emplace(MakeErrorResponse(error, exchange_->target.app, false));
  WriteAnswer(error.status);
}

void Session::Respond(http::response<http::string_body> answer) {
  answer_.emplace(std::move(answer));
  answer_->prepare_payload();
  WriteAnswer(answer_->result_int());
}

void Session::WriteAnswer(int status) {
  // The connection stays open only if the request was read whole.
  const auto& request = exchange_->request;
  bool keep_alive =
      exchange_->keep_alive && request.is_header_done() && request.is_done() && !worker_.draining();
  answer_->keep_alive(keep_alive);
  answer_->version(11);
  exchange_->response_fields.ApplyTo(*answer_);
  if (exchange_->head_request) {
    // The length of the answer a GET would get, and no body.
    size_t length = answer_->body().size();
    answer_->body().clear();
    answer_->content_length(length);
  }
  RecordRequest(status);
  client_.expires_after(worker_.options().client_timeout);
  http::async_write(client_, *answer_,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                      if (ec) return self->Close();
                      self->EndExchange(keep_alive);
                    });
}

void Session::Finished(int status) {
  RecordRequest(status);
  EndExchange(exchange_->keep_alive);
}

void Session::Abort(int status) {
  if (status != 0) RecordRequest(status);
  Close();
}

void Session::Tunnel(std::unique_ptr<UpstreamConnection> upstream) {
  RecordRequest(101);
  exchange_.reset();
  if (relay_buffer_) worker_.ReleaseRelayBuffer(std::move(relay_buffer_));
  if (closed_) return worker_.pool().Release(std::move(upstream), /*reusable=*/false);
  tunnel_ =
      Tunnel::Start(worker_, client_, client_buffer_, std::move(upstream), shared_from_this());
}

void Session::EndExchange(bool keep_alive) {
  exchange_.reset();
  answer_.reset();
  if (relay_buffer_) worker_.ReleaseRelayBuffer(std::move(relay_buffer_));
  if (client_buffer_.size() == 0 && client_buffer_.capacity() > kClientBufferKeepBytes) {
    client_buffer_ = beast::flat_buffer();
    client_buffer_.reserve(kClientReadBytes);
  }
  if (closed_) return;
  if (keep_alive && !worker_.draining()) return ReadRequestHeader();
  if (client_.is_tls()) {
    // close_notify, then wait (bounded) for the client's: the TLS form of the linger below.
    client_.expires_after(kLingerTime);
    return client_.tls()->async_shutdown(
        [self = shared_from_this()](beast::error_code) { self->Close(); });
  }
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
  const AppRoute* app = exchange_ ? exchange_->app : nullptr;
  AppStats& stats = app != nullptr ? *app->stats : worker_.metrics().unrouted();
  stats.RecordRequest(status, std::chrono::steady_clock::now() - exchange_->started);
}

}  // namespace valet
