// Keep-alive connections to backends, one pool per worker thread (not thread-safe).
//
// A connection is reused only after a complete, well-formed response that allowed keep-alive
// (the session decides and calls Release). Idle connections older than the idle timeout, or that
// the backend has closed, are never handed out.
#ifndef VALET_DATAPLANE_UPSTREAM_POOL_H_
#define VALET_DATAPLANE_UPSTREAM_POOL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "dataplane/net_types.h"
#include "dataplane/snapshot.h"

namespace valet {

struct UpstreamConnection {
  explicit UpstreamConnection(boost::asio::io_context& io) : stream(io.get_executor()) {}

  TcpStream stream;
  boost::beast::flat_buffer buffer;
  std::string key;  // EndpointSpec::key
  std::chrono::steady_clock::time_point idle_since{};
};

class UpstreamPool {
 public:
  using ConnectDone =
      std::function<void(boost::system::error_code, std::unique_ptr<UpstreamConnection>)>;

  UpstreamPool(boost::asio::io_context& io, std::chrono::milliseconds idle_timeout,
               size_t max_idle_per_endpoint);

  // A live idle connection to `key`, or null.
  std::unique_ptr<UpstreamConnection> TakeIdle(const std::string& key);

  // Returns a connection for reuse (closes it if the endpoint's idle list is full).
  void Release(std::unique_ptr<UpstreamConnection> conn);

  // Opens a new connection (resolving names asynchronously) within `timeout`.
  void Connect(const EndpointSpec& endpoint, std::chrono::milliseconds timeout, ConnectDone done);

  // Closes idle connections past the idle timeout. Called by the worker's sweep timer.
  void Sweep();

  // Closes idle connections to endpoints not in `keys` (no longer configured).
  void Retain(const absl::flat_hash_set<std::string>& keys);

  // Closes every idle connection (shutdown).
  void CloseAll();

  size_t idle_count() const;

 private:
  bool IsReusable(UpstreamConnection& conn, std::chrono::steady_clock::time_point now) const;

  boost::asio::io_context& io_;
  std::chrono::milliseconds idle_timeout_;
  size_t max_idle_per_endpoint_;
  absl::flat_hash_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_UPSTREAM_POOL_H_
