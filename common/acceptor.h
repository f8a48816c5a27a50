// Opening a TCP listening socket, the one way every Valet listener does it (the data plane's
// proxy port, the admin and REST servers).
#ifndef VALET_COMMON_ACCEPTOR_H_
#define VALET_COMMON_ACCEPTOR_H_

#include "absl/status/status.h"
#include "boost/asio/ip/tcp.hpp"

namespace valet {

// Opens `acceptor` (closed, on the executor that will accept), binds it to `endpoint` (port 0
// picks a free port) and listens with the system's largest backlog. SO_REUSEADDR is set so a
// restarted program can bind a port whose earlier connections still linger in TIME_WAIT.
// Unavailable naming the address and the reason; the acceptor is then closed.
absl::Status OpenAcceptor(boost::asio::ip::tcp::acceptor& acceptor,
                          const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace valet

#endif  // VALET_COMMON_ACCEPTOR_H_
