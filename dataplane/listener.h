// Accepts client connections for one worker. Every worker has its own listening socket on the
// same address (SO_REUSEPORT), so the kernel spreads connections and no lock is shared.
#ifndef VALET_DATAPLANE_LISTENER_H_
#define VALET_DATAPLANE_LISTENER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"

namespace valet {

class Worker;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds `endpoint` on `worker`'s loop. Port 0 picks a free port; the others then bind to
  // local_endpoint() of the first.
  static absl::StatusOr<std::shared_ptr<Listener>> Bind(Worker& worker,
                                                        const boost::asio::ip::tcp::endpoint& ep);

  boost::asio::ip::tcp::endpoint local_endpoint() const;

  void Start();  // Any thread: posts the first accept.
  void Stop();   // Any thread: closes the socket (posted).

 private:
  Listener(Worker& worker, boost::asio::ip::tcp::acceptor acceptor);
  void Accept();

  Worker& worker_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
};

// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces) into an endpoint. Host must be an
// IP address.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseListenAddress(std::string_view text);

}  // namespace valet

#endif  // VALET_DATAPLANE_LISTENER_H_
