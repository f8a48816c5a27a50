#include "dataplane/upstream_pool.h"

#include <sys/socket.h>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/error.hpp"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

UpstreamPool::UpstreamPool(asio::io_context& io, std::chrono::milliseconds idle_timeout,
                           size_t max_idle_per_endpoint)
    : io_(io), idle_timeout_(idle_timeout), max_idle_per_endpoint_(max_idle_per_endpoint) {}

bool UpstreamPool::IsReusable(UpstreamConnection& conn,
                              std::chrono::steady_clock::time_point now) const {
  auto idle = now - conn.idle_since;
  if (idle >= idle_timeout_) return false;
  // A backend closes idle connections after seconds, not microseconds: a connection back in the
  // pool for less than this is taken as alive, which spares a syscall per request under load.
  // (A request without a body that meets a closed connection anyway is retried once.)
  constexpr auto kCheckLivenessAfter = std::chrono::milliseconds(500);
  if (idle < kCheckLivenessAfter) return true;
  // An idle connection must have nothing to read: 0 means the backend closed it, data means it
  // sent something unasked. Either way it cannot carry the next request.
  char byte;
  ssize_t n = ::recv(conn.stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto now = std::chrono::steady_clock::now();
  auto& list = it->second;
  while (!list.empty()) {
    std::unique_ptr<UpstreamConnection> conn = std::move(list.back());
    list.pop_back();
    if (IsReusable(*conn, now)) return conn;
    beast::error_code ignored;
    conn->stream.socket().close(ignored);
  }
  return nullptr;
}

void UpstreamPool::Release(std::unique_ptr<UpstreamConnection> conn) {
  auto& list = idle_[conn->key];
  if (list.size() >= max_idle_per_endpoint_) {
    beast::error_code ignored;
    conn->stream.socket().close(ignored);
    return;
  }
  conn->idle_since = std::chrono::steady_clock::now();
  conn->stream.expires_never();
  list.push_back(std::move(conn));
}

void UpstreamPool::Connect(const EndpointSpec& endpoint, std::chrono::milliseconds timeout,
                           ConnectDone done) {
  auto conn = std::make_unique<UpstreamConnection>(io_);
  conn->key = endpoint.key;
  // Room for a whole small answer (header and body) in one recv(2).
  conn->buffer.reserve(16 * 1024);
  UpstreamConnection* raw = conn.get();
  auto on_connect = [conn = std::move(conn), done](beast::error_code ec, auto&&...) mutable {
    if (!ec) {
      beast::error_code ignored;
      conn->stream.socket().set_option(tcp::no_delay(true), ignored);
    }
    done(ec, ec ? nullptr : std::move(conn));
  };
  raw->stream.expires_after(timeout);
  if (endpoint.address) {
    raw->stream.async_connect(tcp::endpoint(*endpoint.address, endpoint.port),
                              std::move(on_connect));
    return;
  }
  // Names resolve on Asio's resolver thread; the event loop never blocks on DNS. getaddrinfo
  // cannot be interrupted, so the deadline races it: whichever comes first answers, once.
  struct Pending {
    explicit Pending(asio::io_context& io) : resolver(io), timer(io) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    bool answered = false;
  };
  auto pending = std::make_shared<Pending>(io_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto shared_connect = std::make_shared<decltype(on_connect)>(std::move(on_connect));
  pending->timer.expires_at(deadline);
  pending->timer.async_wait([pending, shared_connect](beast::error_code ec) {
    if (ec || pending->answered) return;
    pending->answered = true;
    pending->resolver.cancel();
    (*shared_connect)(beast::error::timeout, tcp::endpoint());
  });
  pending->resolver.async_resolve(
      endpoint.host, std::to_string(endpoint.port),
      [pending, raw, deadline, shared_connect](beast::error_code ec,
                                               tcp::resolver::results_type results) {
        if (pending->answered) return;
        pending->answered = true;
        pending->timer.cancel();
        if (ec) return (*shared_connect)(ec, tcp::endpoint());
        raw->stream.expires_at(deadline);
        raw->stream.async_connect(results, std::move(*shared_connect));
      });
}

void UpstreamPool::Sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [key, list] : idle_) {
    std::erase_if(list, [&](std::unique_ptr<UpstreamConnection>& conn) {
      if (IsReusable(*conn, now)) return false;
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
      return true;
    });
  }
}

void UpstreamPool::Retain(const absl::flat_hash_set<std::string>& keys) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (keys.contains(it->first)) {
      ++it;
      continue;
    }
    for (auto& conn : it->second) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
    }
    idle_.erase(it++);
  }
}

void UpstreamPool::CloseAll() {
  for (auto& [key, list] : idle_) {
    for (auto& conn : list) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
    }
  }
  idle_.clear();
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace valet
