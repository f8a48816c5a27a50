// One request to one of an app's backends. It picks the endpoint with the worker's balancer,
// takes a connection from the worker's pool, sends the request and reads the answer, with the
// rules every upstream request follows in one place:
//
//   - A connect failure is retried once on another endpoint (a connection that never opened
//     carried nothing). Failures count toward the endpoint's ejection, except a connect that
//     times out while other connections to the endpoint are up (a busy backend, not a gone one).
//     An endpoint at its connection cap is overload: 503, no retry, no ejection.
//   - A request without a body whose reused connection turns out closed is sent again once, on
//     a fresh connection, if its method is idempotent and no answer had begun.
//   - One deadline for the answer's header (the app's request timeout), however many interim
//     (1xx) answers come first; at most 8 of them.
//   - A connection is reused only after a complete answer that allowed keep-alive.
//
// Two ways to deliver the answer:
//   Stream (the proxy): the request body is relayed from the client, and the answer to it as it
//     arrives, in constant memory, framed for the client (HEAD, 204/304, chunked for HTTP/1.1,
//     close-delimited for HTTP/1.0). A backend's 101 to a request that asked to upgrade turns the
//     client connection into a tunnel. The call ends the exchange through its Downstream.
//   Buffer (fan-out legs, recording): a body held in memory is sent, and the answer is read whole,
//     its body up to a limit. The call ends by calling `done` with the answer or an error.
//
// The call owns itself like a session: every pending operation holds a shared_ptr to it. Worker
// thread only.
#ifndef VALET_DATAPLANE_UPSTREAM_UPSTREAM_CALL_H_
#define VALET_DATAPLANE_UPSTREAM_UPSTREAM_CALL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "dataplane/gateway_error.h"
#include "dataplane/mocks/answer_recorder.h"
#include "dataplane/request_target.h"
#include "dataplane/snapshot.h"
#include "dataplane/upstream/balancer.h"
#include "dataplane/upstream/body_relay.h"
#include "dataplane/upstream/upstream_pool.h"

namespace valet {

class Downstream;
class Worker;
struct Exchange;

class UpstreamCall : public std::enable_shared_from_this<UpstreamCall> {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  struct Result {
    std::optional<GatewayError> error;  // Set when there is no answer.
    Response response;
  };
  using Done = std::function<void(Result)>;

  // Streams `exchange`'s request, its header already prepared for the next hop (hop-by-hop and
  // framing fields set), to one of the exchange's app's endpoints, and the answer to
  // `downstream`.
  static std::shared_ptr<UpstreamCall> Stream(Exchange& exchange, Downstream& downstream);

  // Sends `request` (its target is built per endpoint from `target`'s rest and query; Host is
  // set) to one of `app`'s endpoints and reads the answer, a body larger than `max_body_bytes`
  // being an error. `app` must stay valid until `done` runs (the caller pins its snapshot).
  static std::shared_ptr<UpstreamCall> Buffer(
      Worker& worker, const AppRoute& app,
      boost::beast::http::request<boost::beast::http::string_body> request, RequestTarget target,
      size_t max_body_bytes, Done done);

  // For make_shared only (one allocation for the call and its count): use Stream or Buffer.
  enum class Mode { kStream, kBuffer };
  struct Key {
    explicit Key() = default;
  };
  UpstreamCall(Key, Worker& worker, const AppRoute& app, Mode mode);
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;
  ~UpstreamCall();

  // Before Start: the deadline for the answer's header, instead of the app's request timeout
  // (a fan-out leg's own timeout).
  void set_response_timeout(std::chrono::milliseconds timeout) { response_timeout_ = timeout; }

  void Start();
  // Closes the backend connection: pending operations end, and so does the call.
  void Cancel();

 private:
  using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

  void Acquire();
  void Connect();
  void OnConnected(boost::beast::error_code ec, std::unique_ptr<UpstreamConnection> conn);
  void SendRequestHeader();
  void OnRequestHeaderSent(boost::beast::error_code ec);
  void OnContinueSent(boost::beast::error_code ec);
  void StartRequestRelay(std::string_view head);
  void OnRequestBodyRelayed(boost::beast::error_code ec, RelaySide side);
  void ReadResponseHeader();
  void OnResponseHeader(boost::beast::error_code ec);
  void SwitchProtocols();
  void StreamResponse();
  void OnResponseHeaderSent(boost::beast::error_code ec);
  void OnResponseBodyRelayed(boost::beast::error_code ec, RelaySide side);
  void ReadBufferedBody();
  // Hands a complete recorded answer to the recorder.
  void DeliverCapture();
  bool RetryOnFreshConnection(boost::beast::error_code ec);
  void FailUpstream(const GatewayError& error, UpstreamError kind);
  void Release(bool reusable);
  // The connection leaves the pool's care (a tunnel takes it); the endpoint's count drops.
  std::unique_ptr<UpstreamConnection> Detach();
  bool client_gone() const;

  // Endings.
  void Fail(const GatewayError& error);
  void Finished(int status);
  void Abort(int status);

  template <bool, class>
  friend class BodyRelay;

  Worker& worker_;
  const AppRoute& app_;
  const Mode mode_;

  // Stream mode.
  Exchange* exchange_ = nullptr;
  Downstream* downstream_ = nullptr;
  std::shared_ptr<void> hold_;  // The client connection, until the call ends.

  // Buffer mode.
  boost::beast::http::request<boost::beast::http::string_body> own_request_;
  RequestTarget own_target_;
  size_t max_body_bytes_ = 0;
  Done done_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> buffered_;
  std::string own_request_head_;
  std::string own_response_head_;

  // Both.
  boost::beast::http::request_header<>* request_ = nullptr;
  const RequestTarget* target_ = nullptr;
  std::string* request_head_ = nullptr;
  std::string* response_head_ = nullptr;
  bool request_has_body_ = false;
  bool expects_continue_ = false;
  bool head_request_ = false;
  bool upgrade_ = false;  // The request asks to switch protocols (Upgrade).
  const EndpointSpec* endpoint_ = nullptr;
  Balancer::Tried tried_;
  std::unique_ptr<UpstreamConnection> upstream_;
  bool upstream_reused_ = false;
  bool fresh_retry_used_ = false;
  bool early_answer_ = false;  // The backend stopped reading the body; read its answer anyway.
  bool no_body_response_ = false;
  bool cancelled_ = false;
  bool ended_ = false;
  int interim_responses_ = 0;
  std::chrono::milliseconds response_timeout_;
  std::chrono::steady_clock::time_point response_deadline_;
  std::optional<GatewayError> last_connect_error_;
  std::optional<ResponseParser> response_;
  // Stream mode, while the app is being recorded (dataplane/mocks/answer_recorder.h).
  std::unique_ptr<AnswerCapture> capture_;

  BodyRelay<true, UpstreamCall> request_relay_{this, &UpstreamCall::OnRequestBodyRelayed};
  BodyRelay<false, UpstreamCall> response_relay_{this, &UpstreamCall::OnResponseBodyRelayed};
};

}  // namespace valet

#endif  // VALET_DATAPLANE_UPSTREAM_UPSTREAM_CALL_H_
