// A connection of the request path, plain TCP or TLS over TCP, used on both sides (clients and
// backends). The plain path costs one predictable branch per operation: no allocation, no
// virtual call. Deadlines (expires_after) live in the TCP stream and so also bound the TLS
// records read and written through it.
//
// TLS is switched on before the first byte moves (UseTls), then Handshake. Worker thread only.
#ifndef VALET_DATAPLANE_TLS_MAYBE_TLS_STREAM_H_
#define VALET_DATAPLANE_TLS_MAYBE_TLS_STREAM_H_

#include <memory>
#include <utility>

#include "boost/asio/ssl/context.hpp"
#include "boost/asio/ssl/stream.hpp"
#include "dataplane/net_types.h"

namespace valet {

class MaybeTlsStream {
 public:
  using executor_type = LoopExecutor;
  using TlsLayer = boost::asio::ssl::stream<TcpStream&>;

  explicit MaybeTlsStream(TcpSocket socket) : tcp_(std::move(socket)) {}
  explicit MaybeTlsStream(const LoopExecutor& executor) : tcp_(executor) {}
  MaybeTlsStream(const MaybeTlsStream&) = delete;
  MaybeTlsStream& operator=(const MaybeTlsStream&) = delete;

  // Speaks TLS from now on, with a session made from `context`. `owner` keeps the context (and
  // whatever its callbacks point to) alive as long as the stream.
  void UseTls(boost::asio::ssl::context& context, std::shared_ptr<const void> owner) {
    tls_owner_ = std::move(owner);
    tls_ = std::make_unique<TlsLayer>(tcp_, context);
  }
  bool is_tls() const { return tls_ != nullptr; }
  // Null unless UseTls was called.
  TlsLayer* tls() { return tls_.get(); }

  executor_type get_executor() noexcept { return tcp_.get_executor(); }
  TcpStream& tcp() { return tcp_; }
  TcpSocket& socket() { return tcp_.socket(); }
  void expires_after(std::chrono::nanoseconds d) { tcp_.expires_after(d); }
  void expires_at(std::chrono::steady_clock::time_point t) { tcp_.expires_at(t); }
  void expires_never() { tcp_.expires_never(); }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    tcp_.async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    tcp_.async_write_some(buffers, std::forward<Handler>(handler));
  }

  // Reads without the TCP stream's deadline (the caller keeps its own timer and cancels the
  // socket): the raw socket when plain, the TLS layer over a stream with no deadline when not.
  template <class MutableBuffers, class Handler>
  void async_read_some_untimed(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_) {
      tcp_.expires_never();
      return tls_->async_read_some(buffers, std::forward<Handler>(handler));
    }
    tcp_.socket().async_read_some(buffers, std::forward<Handler>(handler));
  }
  template <class ConstBuffers, class Handler>
  void async_write_some_untimed(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_) {
      tcp_.expires_never();
      return tls_->async_write_some(buffers, std::forward<Handler>(handler));
    }
    tcp_.socket().async_write_some(buffers, std::forward<Handler>(handler));
  }

  // Ends the sending direction: a TCP half-close, or nothing over TLS (a close_notify would
  // end both directions for many peers; the connection's close ends it instead).
  void ShutdownSend() {
    if (tls_) return;
    boost::system::error_code ignored;
    tcp_.socket().shutdown(TcpSocket::shutdown_send, ignored);
  }

 private:
  TcpStream tcp_;
  std::shared_ptr<const void> tls_owner_;  // Before tls_: outlives it.
  std::unique_ptr<TlsLayer> tls_;
};

// A view of a stream that reads and writes without its deadline (async_*_untimed), for
// asio::async_write and Beast's parsers where a caller's own timer bounds the operation.
class UntimedStream {
 public:
  using executor_type = LoopExecutor;
  explicit UntimedStream(MaybeTlsStream& stream) : stream_(&stream) {}
  executor_type get_executor() noexcept { return stream_->get_executor(); }
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    stream_->async_read_some_untimed(buffers, std::forward<Handler>(handler));
  }
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    stream_->async_write_some_untimed(buffers, std::forward<Handler>(handler));
  }

 private:
  MaybeTlsStream* stream_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_MAYBE_TLS_STREAM_H_
