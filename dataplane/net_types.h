// The socket and stream types of the request path. They name the io_context's own executor
// instead of the type-erased any_io_executor that beast::tcp_stream uses: every asynchronous
// operation copies its executor, and a concrete one costs nothing to copy.
#ifndef VALET_DATAPLANE_NET_TYPES_H_
#define VALET_DATAPLANE_NET_TYPES_H_

#include "boost/asio/basic_stream_socket.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/basic_stream.hpp"

namespace valet {

using LoopExecutor = boost::asio::io_context::executor_type;
using TcpSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, LoopExecutor>;
// A socket with a deadline on every operation (expires_after).
using TcpStream = boost::beast::basic_stream<boost::asio::ip::tcp, LoopExecutor>;

}  // namespace valet

#endif  // VALET_DATAPLANE_NET_TYPES_H_
