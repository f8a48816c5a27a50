#include "dataplane/upstream/upstream_pool.h"

#include <sys/socket.h>

#include <utility>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/core/error.hpp"
#include "dataplane/tls/client_contexts.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

class PoolErrorCategoryImpl : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "valet.upstream_pool"; }
  std::string message(int ev) const override {
    switch (static_cast<PoolError>(ev)) {
      case PoolError::kQueueFull:
        return "too many requests waiting for a backend connection";
      case PoolError::kQueueTimeout:
        return "no backend connection became free in time";
    }
    return "upstream pool error";
  }
};

}  // namespace

const boost::system::error_category& PoolErrorCategory() {
  static const PoolErrorCategoryImpl category;
  return category;
}

UpstreamPool::UpstreamPool(asio::io_context& io, std::chrono::milliseconds idle_timeout,
                           PoolLimits limits, Metrics& metrics)
    : io_(io), idle_timeout_(idle_timeout), limits_(limits), metrics_(metrics) {}

UpstreamPool::~UpstreamPool() { CloseAll(); }

bool UpstreamPool::IsReusable(UpstreamConnection& conn, Clock::time_point now) const {
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

void UpstreamPool::CloseOne(Entry& entry, std::unique_ptr<UpstreamConnection> conn) {
  beast::error_code ignored;
  conn->stream.socket().close(ignored);
  if (entry.open > 0) --entry.open;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  Entry& entry = it->second;
  if (entry.idle.empty()) return nullptr;
  auto now = Clock::now();
  while (!entry.idle.empty()) {
    std::unique_ptr<UpstreamConnection> conn = std::move(entry.idle.back());
    entry.idle.pop_back();
    if (IsReusable(*conn, now)) return conn;
    CloseOne(entry, std::move(conn));
  }
  // Every idle connection was dead: their slots are free for whoever waits.
  ServeWaiters(entry);
  return nullptr;
}

void UpstreamPool::Connect(const EndpointSpec& endpoint, std::chrono::milliseconds timeout,
                           ConnectDone done) {
  Entry& entry = entries_[endpoint.key];
  if (entry.open < limits_.max_connections && entry.waiters.empty()) {
    return Open(endpoint, timeout, entry, std::move(done));
  }
  if (entry.waiters.size() >= limits_.max_pending) {
    asio::post(io_, [done = std::move(done)] { done(PoolError::kQueueFull, nullptr); });
    return;
  }
  entry.waiters.push_back(
      Waiter{&endpoint, timeout, Clock::now() + limits_.queue_timeout, std::move(done)});
  metrics_.upstream_pending().fetch_add(1, std::memory_order_relaxed);
  if (entry.waiters.size() == 1) ArmQueueTimer(endpoint.key, entry);
}

void UpstreamPool::Open(const EndpointSpec& endpoint, std::chrono::milliseconds timeout,
                        Entry& entry, ConnectDone done) {
  ++entry.open;
  ++entry.connecting;
  metrics_.upstream_connections_opened().fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_unique<UpstreamConnection>(io_);
  conn->key = endpoint.key;
  // Room for a whole small answer (header and body) in one recv(2).
  conn->buffer.reserve(16 * 1024);
  UpstreamConnection* raw = conn.get();
  auto on_connect = [this, endpoint = &endpoint, timeout, conn = std::move(conn),
                     done = std::move(done)](beast::error_code ec, auto&&...) mutable {
    if (!ec) {
      beast::error_code ignored;
      conn->stream.socket().set_option(tcp::no_delay(true), ignored);
      if (endpoint->tls) {
        // Scheme https: the handshake shares the connect's deadline.
        UseBackendTls(conn->stream, endpoint->tls, endpoint->host, endpoint->address.has_value());
        UpstreamConnection* raw_conn = conn.get();
        return raw_conn->stream.tls()->async_handshake(
            boost::asio::ssl::stream_base::client,
            [this, endpoint, timeout, conn = std::move(conn),
             done = std::move(done)](beast::error_code handshake_ec) mutable {
              OnOpened(*endpoint, timeout, handshake_ec, std::move(conn), done);
            });
      }
    }
    OnOpened(*endpoint, timeout, ec, std::move(conn), done);
  };
  raw->stream.expires_after(timeout);
  if (endpoint.address) {
    raw->stream.tcp().async_connect(tcp::endpoint(*endpoint.address, endpoint.port),
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
  auto deadline = Clock::now() + timeout;
  auto shared_connect = std::make_shared<decltype(on_connect)>(std::move(on_connect));
  pending->timer.expires_at(deadline);
  pending->timer.async_wait([pending, shared_connect](beast::error_code ec) {
    if (ec || pending->answered) return;
    pending->answered = true;
    pending->resolver.cancel();
    (*shared_connect)(beast::error::timeout, tcp::endpoint());
  });
  pending->resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                  [pending, raw, deadline, shared_connect](
                                      beast::error_code ec, tcp::resolver::results_type results) {
                                    if (pending->answered) return;
                                    pending->answered = true;
                                    pending->timer.cancel();
                                    if (ec) return (*shared_connect)(ec, tcp::endpoint());
                                    raw->stream.expires_at(deadline);
                                    raw->stream.tcp().async_connect(results,
                                                                    std::move(*shared_connect));
                                  });
}

void UpstreamPool::OnOpened(const EndpointSpec& endpoint, std::chrono::milliseconds timeout,
                            beast::error_code ec, std::unique_ptr<UpstreamConnection> conn,
                            ConnectDone& done) {
  auto it = entries_.find(endpoint.key);
  // The entry lives while it counts this connection; CloseAll may have cleared it at shutdown.
  Entry* entry = it == entries_.end() ? nullptr : &it->second;
  if (entry == nullptr) return done(ec, std::move(conn));
  if (entry->connecting > 0) --entry->connecting;
  if (!ec) return done(ec, std::move(conn));
  if (entry->open > 0) --entry->open;
  if (ec == beast::error::timeout && entry->open > entry->connecting &&
      entry->waiters.size() < limits_.max_pending) {
    // Other connections to the endpoint are up: the backend is busy (its accept queue dropped
    // our SYN), not gone. The request carried nothing yet; it waits for one of those instead.
    entry->waiters.push_back(
        Waiter{&endpoint, timeout, Clock::now() + limits_.queue_timeout, std::move(done)});
    metrics_.upstream_pending().fetch_add(1, std::memory_order_relaxed);
    if (entry->waiters.size() == 1) ArmQueueTimer(endpoint.key, *entry);
    return;
  }
  done(ec, nullptr);
  // `done` may have opened or queued more; look the entry up again.
  it = entries_.find(endpoint.key);
  if (it != entries_.end()) ServeWaiters(it->second);
}

void UpstreamPool::Release(std::unique_ptr<UpstreamConnection> conn, bool reusable) {
  auto it = entries_.find(conn->key);
  if (it == entries_.end()) {  // Dropped at shutdown.
    beast::error_code ignored;
    conn->stream.socket().close(ignored);
    return;
  }
  Entry& entry = it->second;
  if (!reusable || entry.retired) {
    CloseOne(entry, std::move(conn));
    if (entry.retired) return EraseIfUnused(it->first);
    return ServeWaiters(entry);
  }
  ++conn->uses;
  conn->stream.expires_never();
  if (!entry.waiters.empty()) {
    // Straight to the oldest waiter: it has waited longest, and the connection is warm.
    ConnectDone done = std::move(entry.waiters.front().done);
    entry.waiters.pop_front();
    metrics_.upstream_pending().fetch_sub(1, std::memory_order_relaxed);
    if (entry.waiters.empty() && entry.queue_timer) entry.queue_timer->cancel();
    asio::post(io_, [done = std::move(done), conn = std::move(conn)]() mutable {
      done({}, std::move(conn));
    });
    return;
  }
  conn->idle_since = Clock::now();
  entry.idle.push_back(std::move(conn));
}

void UpstreamPool::ServeWaiters(Entry& entry) {
  while (!entry.waiters.empty() && entry.open < limits_.max_connections) {
    Waiter w = std::move(entry.waiters.front());
    entry.waiters.pop_front();
    metrics_.upstream_pending().fetch_sub(1, std::memory_order_relaxed);
    Open(*w.endpoint, w.connect_timeout, entry, std::move(w.done));
  }
  if (entry.waiters.empty() && entry.queue_timer) entry.queue_timer->cancel();
}

void UpstreamPool::ArmQueueTimer(const std::string& key, Entry& entry) {
  if (!entry.queue_timer) entry.queue_timer = std::make_unique<asio::steady_timer>(io_);
  entry.queue_timer->expires_at(entry.waiters.front().deadline);
  entry.queue_timer->async_wait([this, key](beast::error_code ec) {
    if (ec) return;
    OnQueueTimer(key);
  });
}

void UpstreamPool::OnQueueTimer(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  // Every waiter waits the same time, so deadlines grow from front to back.
  auto now = Clock::now();
  std::vector<ConnectDone> expired;
  while (!entry.waiters.empty() && entry.waiters.front().deadline <= now) {
    expired.push_back(std::move(entry.waiters.front().done));
    entry.waiters.pop_front();
    metrics_.upstream_pending().fetch_sub(1, std::memory_order_relaxed);
  }
  if (!entry.waiters.empty()) ArmQueueTimer(key, entry);
  for (ConnectDone& done : expired) done(PoolError::kQueueTimeout, nullptr);
}

size_t UpstreamPool::EstablishedCount(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  return it->second.open - it->second.connecting;
}

void UpstreamPool::Sweep() {
  auto now = Clock::now();
  for (auto& [key, entry] : entries_) {
    size_t before = entry.idle.size();
    std::erase_if(entry.idle, [&](std::unique_ptr<UpstreamConnection>& conn) {
      if (IsReusable(*conn, now)) return false;
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
      return true;
    });
    entry.open -= std::min(entry.open, before - entry.idle.size());
    ServeWaiters(entry);
  }
  // Forget endpoints with nothing open or waiting; they come back on demand.
  absl::erase_if(entries_, [](const auto& item) {
    return item.second.open == 0 && item.second.waiters.empty();
  });
}

void UpstreamPool::EraseIfUnused(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.open == 0 && it->second.waiters.empty()) entries_.erase(it);
}

void UpstreamPool::Retain(const absl::flat_hash_set<std::string>& keys) {
  std::vector<std::string> unused;
  for (auto& [key, entry] : entries_) {
    entry.retired = !keys.contains(key);
    if (!entry.retired) continue;
    while (!entry.idle.empty()) {
      std::unique_ptr<UpstreamConnection> conn = std::move(entry.idle.back());
      entry.idle.pop_back();
      CloseOne(entry, std::move(conn));
    }
    if (entry.open == 0 && entry.waiters.empty()) unused.push_back(key);
  }
  for (const std::string& key : unused) entries_.erase(key);
}

void UpstreamPool::CloseAll() {
  // Move everything out first: failing a waiter may destroy its session, which gives back
  // whatever it holds to this pool.
  absl::node_hash_map<std::string, Entry> entries = std::move(entries_);
  entries_.clear();
  for (auto& [key, entry] : entries) {
    for (auto& conn : entry.idle) {
      beast::error_code ignored;
      conn->stream.socket().close(ignored);
    }
    if (entry.queue_timer) entry.queue_timer->cancel();
    metrics_.upstream_pending().fetch_sub(static_cast<int64_t>(entry.waiters.size()),
                                          std::memory_order_relaxed);
  }
  entries.clear();
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, entry] : entries_) n += entry.idle.size();
  return n;
}

size_t UpstreamPool::pending_count() const {
  size_t n = 0;
  for (const auto& [key, entry] : entries_) n += entry.waiters.size();
  return n;
}

}  // namespace valet
