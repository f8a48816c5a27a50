// Listener addresses as flags spell them: "HOST:PORT", "[V6]:PORT" or ":PORT" (every IPv4
// interface; "[::]:PORT" for IPv6 too).
// HOST is an IP address or a name resolved once, at start. Port 0 asks the kernel for a free one.
#ifndef VALET_COMMON_LISTEN_ADDRESS_H_
#define VALET_COMMON_LISTEN_ADDRESS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/asio/ip/tcp.hpp"

namespace valet {

// InvalidArgument naming the text and what is wrong.
absl::StatusOr<boost::asio::ip::tcp::endpoint> ParseListenAddress(std::string_view text);

// "127.0.0.1:8000", "[::1]:8000": the form port files and logs use.
std::string FormatAddress(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace valet

#endif  // VALET_COMMON_LISTEN_ADDRESS_H_
