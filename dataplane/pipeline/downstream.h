// The client connection an exchange is answered on, as handlers see it. The Session implements
// it; a handler answers through it in one of four ways and then touches neither the exchange nor
// the connection again. Worker thread only.
#ifndef VALET_DATAPLANE_PIPELINE_DOWNSTREAM_H_
#define VALET_DATAPLANE_PIPELINE_DOWNSTREAM_H_

#include <memory>
#include <string>

#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"
#include "dataplane/gateway_error.h"
#include "dataplane/tls/maybe_tls_stream.h"

namespace valet {

class Worker;
struct UpstreamConnection;

class Downstream {
 public:
  virtual ~Downstream() = default;

  virtual Worker& worker() = 0;
  // Plain or TLS (is_tls(): the HTTPS listener).
  virtual MaybeTlsStream& stream() = 0;
  // Bytes read from the client and not yet parsed (the rest of the request body, say).
  virtual boost::beast::flat_buffer& buffer() = 0;
  virtual const std::string& ClientIp() const = 0;
  // Worker::kRelayBufferBytes lent for the exchange, for moving body bytes.
  virtual char* RelayBuffer() = 0;
  // Serialized message heads: their capacity is kept across the connection's exchanges.
  virtual std::string& RequestHeadBuffer() = 0;
  virtual std::string& ResponseHeadBuffer() = 0;
  // Keeps the connection (and so the exchange) alive while held.
  virtual std::shared_ptr<void> Hold() = 0;
  virtual bool closed() const = 0;

  // The four ways an exchange ends:
  // Writes a gateway error (JSON) as the answer.
  virtual void Fail(const GatewayError& error) = 0;
  // Writes a complete answer built in memory (a mock, a merged fan-out answer).
  virtual void Respond(boost::beast::http::response<boost::beast::http::string_body> answer) = 0;
  // The handler wrote the answer itself; the connection goes on if the exchange allows it.
  virtual void Finished(int status) = 0;
  // The answer could not be completed (after its header went out, or the client left): close.
  virtual void Abort(int status) = 0;
  // The backend switched protocols (its 101 is written): from now on the connection is a
  // two-way byte tunnel to `upstream`.
  virtual void Tunnel(std::unique_ptr<UpstreamConnection> upstream) = 0;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_DOWNSTREAM_H_
