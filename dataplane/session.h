// One client connection, HTTP/1.1: reads requests one after another (keep-alive and
// pipelining), gives each to its app's pipeline, writes the gateway's own answers, and closes
// politely (drain, linger). What happens to a request between its header and its answer is not
// here but in the pipeline (dataplane/pipeline/):
//
//   [HTTPS listener: TLS handshake, within the handshake timeout]
//   read header -> check framing -> route: the app named by the first path segment
//     -> the app's stages, then its handler (today: proxy)      [RunPipeline]
//     -> the answer written -> next request
//
// Each request is an Exchange, created when its header starts and destroyed with its answer.
// A Session owns itself: every pending operation holds a shared_ptr to it, and it is destroyed
// when the last one completes. Every read and write has a deadline; header and body sizes are
// bounded. Runs on its worker's thread only.
#ifndef VALET_DATAPLANE_SESSION_H_
#define VALET_DATAPLANE_SESSION_H_

#include <memory>
#include <optional>
#include <string>

#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "dataplane/gateway_error.h"
#include "dataplane/net_types.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/tls/maybe_tls_stream.h"

namespace valet {

class ServerCertificates;
class Tunnel;
class Worker;

class Session : public Downstream, public std::enable_shared_from_this<Session> {
 public:
  // `tls`: the HTTPS listener's certificates (the connection starts with a TLS handshake);
  // null for the plain listener.
  Session(Worker& worker, TcpSocket socket,
          std::shared_ptr<const ServerCertificates> tls = nullptr);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() override;

  void Start();

  // The server is draining: close now if idle between requests, else after this response.
  void OnDrain();
  // Closes both sides at once (shutdown).
  void Close();

  // Downstream.
  Worker& worker() override { return worker_; }
  MaybeTlsStream& stream() override { return client_; }
  boost::beast::flat_buffer& buffer() override { return client_buffer_; }
  const std::string& ClientIp() const override { return client_ip_; }
  char* RelayBuffer() override;
  std::string& RequestHeadBuffer() override { return request_head_; }
  std::string& ResponseHeadBuffer() override { return response_head_; }
  std::shared_ptr<void> Hold() override { return shared_from_this(); }
  bool closed() const override { return closed_; }
  void Fail(const GatewayError& error) override;
  void Respond(boost::beast::http::response<boost::beast::http::string_body> answer) override;
  void Finished(int status) override;
  void Abort(int status) override;
  void Tunnel(std::unique_ptr<UpstreamConnection> upstream) override;

 private:
  void Handshake(std::shared_ptr<const ServerCertificates> tls);
  void ReadRequestHeader();
  void OnRequestHeader(boost::beast::error_code ec);
  void Route();
  void WriteAnswer(int status);
  void EndExchange(bool keep_alive);
  void Linger(size_t discarded);
  void RecordRequest(int status);

  Worker& worker_;
  MaybeTlsStream client_;
  boost::beast::flat_buffer client_buffer_;
  std::string client_ip_;
  bool idle_ = false;  // Waiting for the first byte of the next request.
  bool closed_ = false;

  // The request being read or answered: emplaced per request, reset with its answer (in place,
  // so that a request costs no allocation of its own).
  std::optional<Exchange> exchange_;
  // An answer the session writes itself (gateway error, canned answer).
  std::optional<boost::beast::http::response<boost::beast::http::string_body>> answer_;
  std::weak_ptr<valet::Tunnel> tunnel_;  // After a protocol switch.

  // Kept across exchanges: head buffers keep their capacity, the relay buffer is lent per
  // exchange.
  std::string request_head_;
  std::string response_head_;
  std::unique_ptr<char[]> relay_buffer_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SESSION_H_
