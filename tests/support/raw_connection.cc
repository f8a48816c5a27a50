#include "tests/support/raw_connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <chrono>

#include "absl/strings/str_cat.h"

namespace valet::testing {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::chrono::steady_clock::time_point DeadlineIn(absl::Duration timeout) {
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
}

absl::Status IoError(const std::string& what, const beast::error_code& ec,
                     const std::string& received = "") {
  std::string msg = absl::StrCat(what, ": ", ec.message());
  if (!received.empty()) absl::StrAppend(&msg, " (received so far: \"", received, "\")");
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(msg);
  return absl::UnavailableError(msg);
}

}  // namespace

struct RawConnection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  std::string pending;  // Read but not yet returned.

  // Runs one asynchronous operation on the stream to completion (its deadline is already set).
  template <typename Start>
  beast::error_code Run(Start&& start, size_t* transferred = nullptr) {
    beast::error_code result = net::error::would_block;
    // Connects complete with (ec), reads and writes with (ec, bytes).
    start([&result, transferred](beast::error_code ec, auto... n) {
      result = ec;
      if constexpr (sizeof...(n) == 1) {
        if (transferred != nullptr) *transferred = (n + ...);
      }
    });
    ioc.restart();
    ioc.run();
    return result;
  }

  // Appends one read's worth to `pending`.
  beast::error_code ReadSome(std::chrono::steady_clock::time_point deadline) {
    char buf[16384];
    size_t n = 0;
    stream.expires_at(deadline);
    beast::error_code ec = Run(
        [&](auto handler) { stream.async_read_some(net::buffer(buf), std::move(handler)); }, &n);
    pending.append(buf, n);
    return ec;
  }
};

RawConnection::RawConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RawConnection::~RawConnection() = default;

absl::StatusOr<std::unique_ptr<RawConnection>> RawConnection::Connect(const std::string& host,
                                                                      int port,
                                                                      absl::Duration timeout) {
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad host ", host));
  auto impl = std::make_unique<Impl>();
  impl->stream.expires_at(DeadlineIn(timeout));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  ec = impl->Run([&](auto handler) { impl->stream.async_connect(endpoint, std::move(handler)); });
  if (ec) return IoError(absl::StrCat("connect to ", host, ":", port), ec);
  return std::unique_ptr<RawConnection>(new RawConnection(std::move(impl)));
}

absl::Status RawConnection::Write(std::string_view bytes, absl::Duration timeout) {
  impl_->stream.expires_at(DeadlineIn(timeout));
  beast::error_code ec = impl_->Run([&](auto handler) {
    net::async_write(impl_->stream, net::buffer(bytes.data(), bytes.size()), std::move(handler));
  });
  if (ec) return IoError("write", ec);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RawConnection::ReadUntil(std::string_view delimiter,
                                                     absl::Duration timeout) {
  const auto deadline = DeadlineIn(timeout);
  // Bounded by the deadline: every read either adds bytes or ends with an error.
  for (;;) {
    size_t at = impl_->pending.find(delimiter);
    if (at != std::string::npos) {
      std::string out = impl_->pending.substr(0, at + delimiter.size());
      impl_->pending.erase(0, at + delimiter.size());
      return out;
    }
    beast::error_code ec = impl_->ReadSome(deadline);
    if (ec && impl_->pending.find(delimiter) == std::string::npos) {
      return IoError(absl::StrCat("read until \"", std::string(delimiter), "\""), ec,
                     impl_->pending);
    }
  }
}

absl::StatusOr<std::string> RawConnection::ReadToEnd(absl::Duration timeout) {
  const auto deadline = DeadlineIn(timeout);
  for (;;) {
    beast::error_code ec = impl_->ReadSome(deadline);
    if (ec == net::error::eof || ec == net::error::connection_reset) break;
    if (ec) return IoError("read to the end", ec, impl_->pending);
  }
  std::string out = std::move(impl_->pending);
  impl_->pending.clear();
  return out;
}

}  // namespace valet::testing
