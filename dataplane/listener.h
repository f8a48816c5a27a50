// Accepts client connections on the first worker's loop and hands each to the worker that holds
// the fewest connections, so load spreads evenly however few the connections are (a kernel
// hash, as with SO_REUSEPORT, can leave one worker with most of them and a long tail).
#ifndef VALET_DATAPLANE_LISTENER_H_
#define VALET_DATAPLANE_LISTENER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"

namespace valet {

class CertificateStore;
class Worker;

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds `ep` (port 0 picks a free port). `workers` must outlive the listener. With `tls`, an
  // HTTPS listener: each connection starts with a handshake on the store's current certificates.
  static absl::StatusOr<std::shared_ptr<Listener>> Bind(
      std::vector<Worker*> workers, const boost::asio::ip::tcp::endpoint& ep,
      std::shared_ptr<CertificateStore> tls = nullptr);

  boost::asio::ip::tcp::endpoint local_endpoint() const;

  void Start();  // Any thread: posts the first accept.
  void Stop();   // Any thread: closes the socket (posted).

 private:
  Listener(std::vector<Worker*> workers, boost::asio::ip::tcp::acceptor acceptor,
           std::shared_ptr<CertificateStore> tls);
  void Accept();
  Worker& LeastLoaded();

  std::vector<Worker*> workers_;
  size_t next_ = 0;  // Round robin among equally loaded workers.
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::shared_ptr<CertificateStore> tls_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_LISTENER_H_
