// After a protocol switch (a backend's 101 to an Upgrade request: WebSocket, say), the client
// connection and the backend connection become a two-way byte pipe. Bytes are copied as they
// come, in both directions at once; a side that ends its stream (FIN) has that end passed on, and
// the tunnel closes once both directions have ended, on any error, or when no byte moved in either
// direction for the idle timeout.
//
// The tunnel keeps its owner (the session, which holds the client socket) alive until it ends,
// and gives the backend connection back to the pool (closed) then. Worker thread only.
#ifndef VALET_DATAPLANE_TUNNEL_H_
#define VALET_DATAPLANE_TUNNEL_H_

#include <array>
#include <chrono>
#include <memory>
#include <optional>

#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "dataplane/net_types.h"
#include "dataplane/tls/maybe_tls_stream.h"
#include "dataplane/upstream/upstream_pool.h"

namespace valet {

class Worker;

class Tunnel : public std::enable_shared_from_this<Tunnel> {
 public:
  // `client_pending` holds bytes the client sent after its request (already read): they go to
  // the backend first, as bytes the backend sent after its 101 go to the client first.
  static std::shared_ptr<Tunnel> Start(Worker& worker, MaybeTlsStream& client,
                                       boost::beast::flat_buffer& client_pending,
                                       std::unique_ptr<UpstreamConnection> upstream,
                                       std::shared_ptr<void> owner);

  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;
  ~Tunnel();

  // Closes both connections; the tunnel ends once its pending operations have.
  void Stop();

 private:
  struct Direction {
    // Without the streams' deadlines: the tunnel keeps its own (idle).
    std::optional<UntimedStream> from;
    std::optional<UntimedStream> to;
    MaybeTlsStream* to_stream = nullptr;
    std::unique_ptr<char[]> buffer;
    bool ended = false;  // Read side saw the end of the stream and passed it on.
  };

  Tunnel(Worker& worker, MaybeTlsStream& client, std::unique_ptr<UpstreamConnection> upstream,
         std::shared_ptr<void> owner);
  void Flush(Direction& d, boost::beast::flat_buffer& pending);
  void Read(Direction& d);
  void OnRead(Direction& d, boost::beast::error_code ec, size_t n);
  void ArmIdleTimer();
  void MaybeEnd();

  Worker& worker_;
  MaybeTlsStream& client_;
  std::unique_ptr<UpstreamConnection> upstream_;
  std::shared_ptr<void> owner_;
  std::array<Direction, 2> directions_;  // [0]: client to backend, [1]: backend to client.
  boost::asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  bool stopped_ = false;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_TUNNEL_H_
