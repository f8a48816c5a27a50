#include "common/listen_address.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "common/string_view.h"

namespace valet {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

absl::StatusOr<tcp::endpoint> ParseListenAddress(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", AsAbsl(text), "\": ", AsAbsl(why)));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected HOST:PORT (or :PORT)");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || err != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(host), ec);
  if (!ec) return tcp::endpoint(address, static_cast<uint16_t>(port));
  // A name ("localhost"): resolved once, now, at start.
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results =
      resolver.resolve(std::string(host), std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return bad(absl::StrCat("cannot resolve \"", AsAbsl(host), "\": ", ec.message()));
  }
  return results.begin()->endpoint();
}

std::string FormatAddress(const tcp::endpoint& endpoint) {
  std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) host = absl::StrCat("[", host, "]");
  return absl::StrCat(host, ":", endpoint.port());
}

}  // namespace valet
