#include "dataplane/tunnel.h"

#include <utility>

#include "boost/asio/write.hpp"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {
constexpr size_t kTunnelBufferBytes = 16 * 1024;
}  // namespace

std::shared_ptr<Tunnel> Tunnel::Start(Worker& worker, MaybeTlsStream& client,
                                      beast::flat_buffer& client_pending,
                                      std::unique_ptr<UpstreamConnection> upstream,
                                      std::shared_ptr<void> owner) {
  std::shared_ptr<Tunnel> t(new Tunnel(worker, client, std::move(upstream), std::move(owner)));
  worker.metrics().active_tunnels().fetch_add(1, std::memory_order_relaxed);
  t->ArmIdleTimer();
  t->Flush(t->directions_[0], client_pending);
  t->Flush(t->directions_[1], t->upstream_->buffer);
  return t;
}

Tunnel::Tunnel(Worker& worker, MaybeTlsStream& client, std::unique_ptr<UpstreamConnection> upstream,
               std::shared_ptr<void> owner)
    : worker_(worker),
      client_(client),
      upstream_(std::move(upstream)),
      owner_(std::move(owner)),
      idle_timer_(worker.io()),
      last_activity_(std::chrono::steady_clock::now()) {
  directions_[0].from.emplace(client_);
  directions_[0].to.emplace(upstream_->stream);
  directions_[0].to_stream = &upstream_->stream;
  directions_[1].from.emplace(upstream_->stream);
  directions_[1].to.emplace(client_);
  directions_[1].to_stream = &client_;
  for (Direction& d : directions_) d.buffer = std::make_unique<char[]>(kTunnelBufferBytes);
  // The tunnel keeps its own deadline (idle), not the streams' per-operation ones.
  client_.expires_never();
  upstream_->stream.expires_never();
}

Tunnel::~Tunnel() {
  worker_.metrics().active_tunnels().fetch_sub(1, std::memory_order_relaxed);
  if (upstream_) worker_.pool().Release(std::move(upstream_), /*reusable=*/false);
}

void Tunnel::Stop() {
  if (stopped_) return;
  stopped_ = true;
  beast::error_code ignored;
  idle_timer_.cancel();
  client_.socket().close(ignored);
  upstream_->stream.socket().close(ignored);
}

void Tunnel::Flush(Direction& d, beast::flat_buffer& pending) {
  if (pending.size() == 0) return Read(d);
  asio::async_write(*d.to, pending.data(),
                    [self = shared_from_this(), &d, &pending](beast::error_code ec, size_t n) {
                      if (ec) return self->Stop();
                      pending.consume(n);
                      self->last_activity_ = std::chrono::steady_clock::now();
                      self->Read(d);
                    });
}

void Tunnel::Read(Direction& d) {
  if (stopped_) return;
  d.from->async_read_some(
      asio::buffer(d.buffer.get(), kTunnelBufferBytes),
      [self = shared_from_this(), &d](beast::error_code ec, size_t n) { self->OnRead(d, ec, n); });
}

void Tunnel::OnRead(Direction& d, beast::error_code ec, size_t n) {
  if (ec == asio::error::eof && !stopped_) {
    // Pass the end on; the other direction may still carry bytes.
    d.to_stream->ShutdownSend();
    d.ended = true;
    return MaybeEnd();
  }
  if (ec) return Stop();
  last_activity_ = std::chrono::steady_clock::now();
  asio::async_write(*d.to, asio::buffer(d.buffer.get(), n),
                    [self = shared_from_this(), &d](beast::error_code ec, size_t) {
                      if (ec) return self->Stop();
                      self->Read(d);
                    });
}

void Tunnel::MaybeEnd() {
  if (directions_[0].ended && directions_[1].ended) Stop();
}

void Tunnel::ArmIdleTimer() {
  idle_timer_.expires_at(last_activity_ + worker_.options().tunnel_idle_timeout);
  idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->stopped_) return;
    if (std::chrono::steady_clock::now() - self->last_activity_ >=
        self->worker_.options().tunnel_idle_timeout) {
      return self->Stop();
    }
    self->ArmIdleTimer();
  });
}

}  // namespace valet
