#include "common/acceptor.h"

#include "absl/strings/str_cat.h"
#include "common/listen_address.h"

namespace valet {

namespace asio = boost::asio;

absl::Status OpenAcceptor(asio::ip::tcp::acceptor& acceptor,
                          const asio::ip::tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) return absl::OkStatus();
  boost::system::error_code ignored;
  acceptor.close(ignored);
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", FormatAddress(endpoint), ": ", ec.message()));
}

}  // namespace valet
