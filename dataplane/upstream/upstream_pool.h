// Keep-alive connections to backends, one pool per worker thread (not thread-safe).
//
// Per endpoint the pool caps the connections it holds open (connecting, lent to a request, or
// idle), as HAProxy's per-server `maxconn` does: a request that finds no idle connection and no
// free slot waits in a FIFO queue bounded in length and in time, and is answered kQueueFull or
// kQueueTimeout past either bound (the session turns that into a counted 503). A connection given
// back goes straight to the oldest waiter. Idle connections stay as long as the cap allows and
// close after the idle timeout, so the idle set follows demand: a burst never opens more
// connections than the cap, and steady load never churns them.
//
// A connection is reused only after a complete, well-formed response that allowed keep-alive
// (the session decides and calls Release). Idle connections older than the idle timeout, or that
// the backend has closed, are never handed out.
#ifndef VALET_DATAPLANE_UPSTREAM_UPSTREAM_POOL_H_
#define VALET_DATAPLANE_UPSTREAM_UPSTREAM_POOL_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/system/error_code.hpp"
#include "dataplane/metrics.h"
#include "dataplane/net_types.h"
#include "dataplane/snapshot.h"
#include "dataplane/tls/maybe_tls_stream.h"

namespace valet {

struct UpstreamConnection {
  explicit UpstreamConnection(boost::asio::io_context& io) : stream(io.get_executor()) {}

  MaybeTlsStream stream;  // TLS to endpoints of scheme https.
  boost::beast::flat_buffer buffer;
  std::string key;  // EndpointSpec::key
  std::chrono::steady_clock::time_point idle_since{};
  uint32_t uses = 0;  // Times given back for reuse: 0 means freshly opened.
};

// Why the pool gave no connection (besides a failed connect).
enum class PoolError { kQueueFull = 1, kQueueTimeout = 2 };
const boost::system::error_category& PoolErrorCategory();
inline boost::system::error_code make_error_code(PoolError e) {
  return {static_cast<int>(e), PoolErrorCategory()};
}

// Bounds per endpoint and worker (the flags give them per data plane; see ForWorker).
struct PoolLimits {
  size_t max_connections = 512;  // Open connections: connecting, lent and idle.
  size_t max_pending = 2048;     // Requests waiting for a connection.
  std::chrono::milliseconds queue_timeout{5'000};

  // A data-plane-wide limit split over `workers` (rounded up, at least 1 each).
  static size_t Share(size_t total, int workers) {
    return std::max<size_t>(1, (total + workers - 1) / std::max(1, workers));
  }
};

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;
  using ConnectDone =
      std::function<void(boost::system::error_code, std::unique_ptr<UpstreamConnection>)>;

  // `metrics` (counts connection attempts and waiting requests) must outlive the pool.
  UpstreamPool(boost::asio::io_context& io, std::chrono::milliseconds idle_timeout,
               PoolLimits limits, Metrics& metrics);
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;
  ~UpstreamPool();

  // A live idle connection to `key`, or null.
  std::unique_ptr<UpstreamConnection> TakeIdle(const std::string& key);

  // A connection to `endpoint`: a new one (resolving names asynchronously, within `timeout`)
  // while the endpoint is under its cap, else the next one given back or opened for the queue.
  // A new connection that times out while others to the endpoint are up puts the request in
  // the queue instead of failing it (a busy backend dropped the SYN; the request carried
  // nothing).
  // `done` runs later on this thread, never inside this call. `endpoint` must stay valid until
  // then (the caller pins its snapshot).
  void Connect(const EndpointSpec& endpoint, std::chrono::milliseconds timeout, ConnectDone done);

  // Gives a connection back: kept (or handed to a waiter) when `reusable`, else closed.
  void Release(std::unique_ptr<UpstreamConnection> conn, bool reusable);

  // Connections to `key` that are open and not still connecting: a connect that times out while
  // some are up means a busy backend, not a gone one.
  size_t EstablishedCount(const std::string& key) const;

  // Closes idle connections past the idle timeout. Called by the worker's sweep timer.
  void Sweep();

  // Closes idle connections to endpoints not in `keys` (no longer configured); connections lent
  // to requests still in flight close when given back.
  void Retain(const absl::flat_hash_set<std::string>& keys);

  // Closes every idle connection and fails every waiter (shutdown).
  void CloseAll();

  size_t idle_count() const;
  size_t pending_count() const;

 private:
  struct Waiter {
    const EndpointSpec* endpoint;
    std::chrono::milliseconds connect_timeout;
    Clock::time_point deadline;
    ConnectDone done;
  };
  struct Entry {
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    size_t open = 0;  // Connecting + lent + idle: what the cap counts.
    size_t connecting = 0;
    bool retired = false;  // No longer configured: given-back connections close.
    std::deque<Waiter> waiters;
    std::unique_ptr<boost::asio::steady_timer> queue_timer;  // Due at the oldest waiter's deadline.
  };

  bool IsReusable(UpstreamConnection& conn, Clock::time_point now) const;
  void Open(const EndpointSpec& endpoint, std::chrono::milliseconds timeout, Entry& entry,
            ConnectDone done);
  void OnOpened(const EndpointSpec& endpoint, std::chrono::milliseconds timeout,
                boost::system::error_code ec, std::unique_ptr<UpstreamConnection> conn,
                ConnectDone& done);
  // A slot freed up: starts connects for waiters while the cap allows.
  void ServeWaiters(Entry& entry);
  void ArmQueueTimer(const std::string& key, Entry& entry);
  void OnQueueTimer(const std::string& key);
  void CloseOne(Entry& entry, std::unique_ptr<UpstreamConnection> conn);
  void EraseIfUnused(const std::string& key);

  boost::asio::io_context& io_;
  std::chrono::milliseconds idle_timeout_;
  PoolLimits limits_;
  Metrics& metrics_;
  // Node map: entries keep their address while other keys come and go.
  absl::node_hash_map<std::string, Entry> entries_;
};

}  // namespace valet

namespace boost::system {
template <>
struct is_error_code_enum<valet::PoolError> : std::true_type {};
}  // namespace boost::system

#endif  // VALET_DATAPLANE_UPSTREAM_UPSTREAM_POOL_H_
