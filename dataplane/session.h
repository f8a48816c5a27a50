// One client connection: reads requests one after another (keep-alive and pipelining), and runs
// each through the request path:
//
//   read header -> check framing -> route (app from the first path segment)
//     -> [auth] -> [rate limit]                      (stages of later releases slot in here)
//     -> upstream: pick endpoint, pooled or new connection, retry once on connect failure
//     -> stream request body -> read response header -> stream response body -> next request
//
// A Session owns itself: every pending operation holds a shared_ptr to it, and it is destroyed
// when the last one completes. Every read and write has a deadline; header and body sizes are
// bounded. Runs on its worker's thread only.
#ifndef VALET_DATAPLANE_SESSION_H_
#define VALET_DATAPLANE_SESSION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/string_body.hpp"
#include "dataplane/balancer.h"
#include "dataplane/body_relay.h"
#include "dataplane/gateway_error.h"
#include "dataplane/net_types.h"
#include "dataplane/request_target.h"
#include "dataplane/snapshot.h"
#include "dataplane/upstream_pool.h"

namespace valet {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, TcpSocket socket);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  void Start();

  // The server is draining: close now if idle between requests, else after this response.
  void OnDrain();
  // Closes both sides at once (shutdown).
  void Close();

 private:
  using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

  // Client side.
  void ReadRequestHeader();
  void OnRequestHeader(boost::beast::error_code ec);
  void HandleRequest();
  void SendError(const GatewayError& error);
  void OnErrorSent(boost::beast::error_code ec, bool keep_alive);
  void EndExchange(bool keep_alive);
  void Linger(size_t discarded);

  // Backend side.
  void AcquireUpstream();
  void ConnectUpstream();
  void OnUpstreamConnected(boost::beast::error_code ec, std::unique_ptr<UpstreamConnection> conn);
  void SendRequestHeader();
  void OnRequestHeaderSent(boost::beast::error_code ec);
  void OnContinueSent(boost::beast::error_code ec);
  void StartRequestRelay(std::string_view head);
  void OnRequestBodyRelayed(boost::beast::error_code ec, RelaySide side);
  void ReadResponseHeader();
  void OnResponseHeader(boost::beast::error_code ec);
  void OnResponseHeaderSent(boost::beast::error_code ec);
  void OnResponseBodyRelayed(boost::beast::error_code ec, RelaySide side);
  void FailUpstream(const GatewayError& error, UpstreamError kind);
  bool RetryOnFreshConnection(boost::beast::error_code ec);
  void ReleaseUpstream(bool reusable);
  void RecordRequest(int status);
  char* RelayBuffer();

  template <bool, class>
  friend class BodyRelay;

  Worker& worker_;
  TcpStream client_;
  boost::beast::flat_buffer client_buffer_;
  std::string client_ip_;
  bool idle_ = false;  // Waiting for the first byte of the next request.
  bool closed_ = false;

  // The exchange in progress (reset per request).
  std::optional<RequestParser> request_;
  std::optional<ResponseParser> response_;
  std::string request_head_;   // Serialized for the backend; capacity kept across requests.
  std::string response_head_;  // Serialized for the client.
  std::optional<boost::beast::http::response<boost::beast::http::string_body>> error_response_;
  std::shared_ptr<const Snapshot> snapshot_;  // Pinned for the whole exchange.
  const AppRoute* app_ = nullptr;
  RequestTarget target_;
  const EndpointSpec* endpoint_ = nullptr;
  Balancer::Tried tried_;
  std::unique_ptr<UpstreamConnection> upstream_;
  bool upstream_reused_ = false;
  bool fresh_retry_used_ = false;
  bool request_has_body_ = false;
  bool expects_continue_ = false;
  bool head_request_ = false;
  bool client_http10_ = false;
  bool no_body_response_ = false;
  bool early_answer_ = false;  // The backend stopped reading the body; read its answer anyway.
  int interim_responses_ = 0;
  std::chrono::steady_clock::time_point response_deadline_;
  bool client_keep_alive_ = false;
  std::optional<GatewayError> last_connect_error_;
  std::chrono::steady_clock::time_point started_;

  std::unique_ptr<char[]> relay_buffer_;  // Borrowed from the worker for one exchange.
  BodyRelay<true, Session> request_relay_{this, &Session::OnRequestBodyRelayed};
  BodyRelay<false, Session> response_relay_{this, &Session::OnResponseBodyRelayed};
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SESSION_H_
