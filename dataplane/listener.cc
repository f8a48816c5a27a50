#include "dataplane/listener.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/string_view.h"
#include "dataplane/session.h"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

absl::StatusOr<tcp::endpoint> ParseListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", AsAbsl(text), "\" must be HOST:PORT"));
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", AsAbsl(text), "\": bad port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", AsAbsl(text), "\": host must be an IP address"));
  }
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

absl::StatusOr<std::shared_ptr<Listener>> Listener::Bind(Worker& worker, const tcp::endpoint& ep) {
  tcp::acceptor acceptor(worker.io());
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", ep.address().to_string(), ":",
                                               ep.port(), ": ", ec.message()));
  }
  return std::shared_ptr<Listener>(new Listener(worker, std::move(acceptor)));
}

Listener::Listener(Worker& worker, tcp::acceptor acceptor)
    : worker_(worker), acceptor_(std::move(acceptor)), backoff_(worker.io()) {}

tcp::endpoint Listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::Start() {
  asio::post(worker_.io(), [self = shared_from_this()] { self->Accept(); });
}

void Listener::Stop() {
  asio::post(worker_.io(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->backoff_.cancel();
  });
}

void Listener::Accept() {
  acceptor_.async_accept(
      worker_.io(), [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
          // Out of file descriptors or memory: back off instead of spinning.
          VALET_LOG(WARNING) << "accept failed: " << ec.message();
          self->backoff_.expires_after(std::chrono::milliseconds(50));
          self->backoff_.async_wait([self](boost::system::error_code wait_ec) {
            if (!wait_ec) self->Accept();
          });
          return;
        }
        std::make_shared<Session>(self->worker_, std::move(socket))->Start();
        self->Accept();
      });
}

}  // namespace valet
