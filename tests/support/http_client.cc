#include "tests/support/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/support/process.h"

namespace valet::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kBodyLimit = 256 * 1024 * 1024;

std::chrono::nanoseconds ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

// Runs one asynchronous operation to completion on `ioc`. `start` receives the completion handler.
template <typename Start>
beast::error_code RunOp(net::io_context& ioc, Start&& start) {
  beast::error_code result = net::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

absl::Status IoError(const std::string& what, const beast::error_code& ec) {
  std::string msg = absl::StrCat(what, ": ", ec.message());
  if (ec == beast::error::timeout) return absl::DeadlineExceededError(msg);
  return absl::UnavailableError(msg);
}

bool IsPeerGone(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::error::connection_aborted;
}

bool HasField(const HeaderList& headers, std::string_view name) {
  return CountFields(headers, name) > 0;
}

}  // namespace

struct HttpClient::Impl {
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string host, int port, absl::Duration timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

HttpClient::HttpClient(const std::string& host_port, absl::Duration timeout)
    : timeout_(timeout), impl_(std::make_unique<Impl>()) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(host_port);
  if (!hp.ok()) {
    std::fprintf(stderr, "HttpClient: %s\n", std::string(hp.status().message()).c_str());
    std::abort();
  }
  host_ = hp->first;
  port_ = hp->second;
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (impl_->stream.has_value()) {
    beast::error_code ec;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
    impl_->stream->close();
    impl_->stream.reset();
  }
  impl_->buffer.clear();
}

bool HttpClient::connected() const {
  return impl_->stream.has_value() && impl_->stream->socket().is_open();
}

absl::StatusOr<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                              const HeaderList& headers, std::string_view body,
                                              std::optional<std::vector<std::string>> chunks) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = connected();
    if (!reused) {
      Close();
      impl_->stream.emplace(impl_->ioc);
      tcp::endpoint endpoint(net::ip::make_address(host_), static_cast<unsigned short>(port_));
      impl_->stream->expires_after(ToChrono(timeout_));
      beast::error_code ec = RunOp(impl_->ioc, [&](auto handler) {
        impl_->stream->async_connect(endpoint, std::move(handler));
      });
      if (ec) {
        Close();
        return IoError(absl::StrCat("connect to ", host_, ":", port_), ec);
      }
      ++connections_opened_;
    }
    beast::tcp_stream& stream = *impl_->stream;

    // Write.
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    for (const auto& [name, value] : headers) req.insert(name, value);
    if (!HasField(headers, "Host")) req.set(http::field::host, absl::StrCat(host_, ":", port_));
    beast::error_code ec;
    if (chunks.has_value()) {
      req.chunked(true);
      http::request<http::empty_body> head(req.base());
      http::request_serializer<http::empty_body> sr(head);
      stream.expires_after(ToChrono(timeout_));
      ec = RunOp(impl_->ioc,
                 [&](auto handler) { http::async_write_header(stream, sr, std::move(handler)); });
      for (size_t i = 0; !ec && i < chunks->size(); ++i) {
        if ((*chunks)[i].empty()) continue;
        stream.expires_after(ToChrono(timeout_));
        ec = RunOp(impl_->ioc, [&](auto handler) {
          net::async_write(stream, http::make_chunk(net::buffer((*chunks)[i])), std::move(handler));
        });
      }
      if (!ec) {
        stream.expires_after(ToChrono(timeout_));
        ec = RunOp(impl_->ioc, [&](auto handler) {
          net::async_write(stream, http::make_chunk_last(), std::move(handler));
        });
      }
    } else {
      req.body() = std::string(body);
      if (!HasField(headers, "Content-Length") && !HasField(headers, "Transfer-Encoding")) {
        bool bodiless_method =
            method == "GET" || method == "HEAD" || method == "DELETE" || method == "OPTIONS";
        if (!body.empty() || !bodiless_method) req.content_length(body.size());
      }
      stream.expires_after(ToChrono(timeout_));
      ec = RunOp(impl_->ioc,
                 [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
    }
    if (ec) {
      Close();
      if (reused && attempt == 0 && ec != beast::error::timeout) continue;
      return IoError("write request", ec);
    }

    // Read, skipping 1xx interim responses (except 101).
    for (int interim = 0; interim < 10; ++interim) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(kBodyLimit);
      parser.header_limit(1024 * 1024);
      if (method == "HEAD") parser.skip(true);
      stream.expires_after(ToChrono(timeout_));
      ec = RunOp(impl_->ioc, [&](auto handler) {
        http::async_read(stream, impl_->buffer, parser, std::move(handler));
      });
      if (ec) {
        bool stale = reused && attempt == 0 && !parser.got_some() && IsPeerGone(ec);
        Close();
        if (stale) break;  // Retry on a new connection.
        if (ec == beast::error::timeout) return IoError("read response", ec);
        if (IsPeerGone(ec)) return IoError("read response", ec);
        return absl::InternalError(absl::StrCat("read response: ", ec.message()));
      }
      auto& res = parser.get();
      int status = res.result_int();
      if (status >= 100 && status < 200 && status != 101) continue;

      HttpResponse out;
      out.status = status;
      out.reason = std::string(res.reason());
      for (const auto& field : res) {
        out.fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      out.headers = ToHeaderMap(out.fields);
      out.chunked = res.chunked();
      out.keep_alive = res.keep_alive();
      out.reused_connection = reused;
      out.body = std::move(res.body());
      if (!out.keep_alive) Close();
      return out;
    }
    if (!connected() && reused && attempt == 0) continue;
    Close();
    return absl::InternalError("too many interim responses");
  }
  return absl::UnavailableError("connection closed twice");
}

absl::StatusOr<std::string> SendRaw(const std::string& host, int port, std::string_view bytes,
                                    absl::Duration timeout, bool* peer_closed) {
  if (peer_closed != nullptr) *peer_closed = false;
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  const auto deadline = std::chrono::steady_clock::now() + ToChrono(timeout);
  beast::error_code ec;
  auto endpoint = tcp::endpoint(net::ip::make_address(host, ec), static_cast<unsigned short>(port));
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad host ", host));
  stream.expires_at(deadline);
  ec = RunOp(ioc, [&](auto handler) { stream.async_connect(endpoint, std::move(handler)); });
  if (ec) return IoError(absl::StrCat("connect to ", host, ":", port), ec);
  stream.expires_at(deadline);
  ec = RunOp(ioc, [&](auto handler) {
    net::async_write(stream, net::buffer(bytes.data(), bytes.size()), std::move(handler));
  });
  // A peer that rejects the request may close before reading it all; still read its answer.
  if (ec && !IsPeerGone(ec)) return IoError("write", ec);

  std::string out;
  char buf[16384];
  for (;;) {
    size_t n = 0;
    stream.expires_at(deadline);
    beast::error_code rec = net::error::would_block;
    stream.async_read_some(net::buffer(buf), [&](beast::error_code e, size_t got) {
      rec = e;
      n = got;
    });
    ioc.restart();
    ioc.run();
    out.append(buf, n);
    if (rec) {
      if (peer_closed != nullptr) *peer_closed = (rec != beast::error::timeout);
      break;
    }
  }
  return out;
}

}  // namespace valet::testing
