// valet-echo-backend: a small, fast HTTP/1.1 server used as the demo backend of the README and as
// the backend of the load benchmarks (bench/proxy_bench.sh).
//
//   GET  /any/path[?bytes=N]  -> 200 application/json {"service":"echo","method":"GET","path":...}
//                                padded to N bytes (default --body-bytes) with a "pad" field.
//   HEAD                      -> the GET headers, no body.
//   any other method          -> 200 with the request body echoed back (same Content-Type).
//   --delay-ms N              -> every answer N ms late (the fan-out benchmark's slow backends).
//   GET  /_echo/stats          -> {"accepted": N}: connections accepted since start (the load
//                                benchmarks read it to count the connections a proxy opened).
//
// Design: --threads event loops, each with its own io_context and its own SO_REUSEPORT acceptor on
// the same port, so the kernel spreads connections and a connection never changes thread (no
// locks, no strands). Keep-alive; idle connections are closed after 60 s. SIGTERM/SIGINT stop all
// loops and the process exits 0.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/flag_args.h"
#include "common/logging.h"
#include "common/string_view.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:9050", "Address to listen on, HOST:PORT (port 0: any).");
ABSL_FLAG(std::string, port_file, "",
          "If set, write 'listen HOST:PORT' here (atomically) once bound.");
ABSL_FLAG(int, threads, 2, "Event-loop threads.");
ABSL_FLAG(int, body_bytes, 1024, "Size of GET response bodies unless the query says ?bytes=N.");
ABSL_FLAG(int, delay_ms, 0,
          "Answer every request this long after it arrived (a timer, not a sleep): a backend "
          "with a known latency for the fan-out benchmark.");

namespace valet {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr std::string_view kStatsPath = "/_echo/stats";

// Connections accepted by every loop.
std::atomic<uint64_t> accepted_connections{0};
// --delay-ms, set once before the loops start.
std::chrono::milliseconds answer_delay{0};

// The JSON answer to a GET: {"service":"echo","method":M,"path":P,"pad":"xxx"} of `size` bytes,
// or without "pad" if that is already longer.
std::string GetBody(std::string_view method, std::string_view path, size_t size) {
  std::string head =
      absl::StrCat(R"({"service":"echo","method":)", nlohmann::json(std::string(method)).dump(),
                   R"(,"path":)", nlohmann::json(std::string(path)).dump());
  constexpr std::string_view kPadOpen = R"(,"pad":")";
  constexpr std::string_view kPadClose = R"("})";
  size_t fixed = head.size() + kPadOpen.size() + kPadClose.size();
  if (size <= fixed) return head + "}";
  std::string out;
  out.reserve(size);
  out.append(head).append(kPadOpen).append(size - fixed, 'x').append(kPadClose);
  return out;
}

// Reads ?bytes=N from a query string; returns nullopt if absent or invalid.
std::optional<size_t> BytesFromQuery(std::string_view query) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (param.substr(0, 6) == "bytes=") {
      size_t n = 0;
      if (absl::SimpleAtoi(AsAbsl(param.substr(6)), &n)) return std::min(n, kMaxBodyBytes);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, size_t body_bytes)
      : stream_(std::move(socket)), body_bytes_(body_bytes) {}

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      // EOF, a malformed request or the idle timeout: nothing useful to answer.
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    http::request<http::string_body>& req = parser_->get();
    res_.emplace();
    res_->version(req.version());
    res_->result(http::status::ok);
    res_->keep_alive(req.keep_alive());
    if (req.method() == http::verb::get || req.method() == http::verb::head) {
      std::string_view target = req.target();
      size_t q = target.find('?');
      std::string_view path = target.substr(0, q);
      size_t size = body_bytes_;
      if (q != std::string_view::npos) {
        size = BytesFromQuery(target.substr(q + 1)).value_or(body_bytes_);
      }
      std::string body = path == kStatsPath
                             ? absl::StrCat(R"({"accepted":)", accepted_connections.load(), "}")
                             : GetBody(req.method_string(), path, size);
      res_->set(http::field::content_type, "application/json");
      res_->content_length(body.size());
      if (req.method() == http::verb::get) res_->body() = std::move(body);
    } else {
      std::string_view type = req[http::field::content_type];
      res_->set(http::field::content_type, type.empty() ? "application/octet-stream" : type);
      res_->body() = std::move(req.body());
      res_->content_length(res_->body().size());
    }
    if (answer_delay.count() > 0) {
      timer_.expires_after(answer_delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->Write();
      });
      return;
    }
    Write();
  }

  void Write() {
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return;
    if (!res_->keep_alive()) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    DoRead();
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_{stream_.get_executor()};
  size_t body_bytes_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
};

// One event loop: an io_context run by one thread and its own acceptor on the shared port.
class Loop {
 public:
  Loop() : ioc_(1), acceptor_(ioc_) {}

  // Binds `endpoint` with SO_REUSEPORT. Returns the bound endpoint.
  beast::error_code Bind(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec.assign(errno, boost::system::system_category());
      }
    }
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    return ec;
  }

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  net::io_context& ioc() { return ioc_; }

  void Start(size_t body_bytes) {
    body_bytes_ = body_bytes;
    DoAccept();
  }

 private:
  void DoAccept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!ec) {
        accepted_connections.fetch_add(1, std::memory_order_relaxed);
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), body_bytes_)->Run();
      } else if (ec == net::error::operation_aborted) {
        return;
      }
      DoAccept();
    });
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  size_t body_bytes_ = 1024;
};

int Main(int argc, char** argv) {
  valet::ParseFlags(argc, argv);  // Accepts --conf-dir as well as --conf_dir.
  SetLogProgramName("echo-backend");
  const std::string listen = absl::GetFlag(FLAGS_listen);
  answer_delay = std::chrono::milliseconds(std::clamp(absl::GetFlag(FLAGS_delay_ms), 0, 600'000));
  const int threads = std::clamp(absl::GetFlag(FLAGS_threads), 1, 256);
  const size_t body_bytes = std::min<size_t>(
      static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_body_bytes))), kMaxBodyBytes);

  size_t colon = listen.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(AsAbsl(std::string_view(listen).substr(colon + 1)), &port) ||
      port > 65535) {
    VALET_LOG(ERROR) << "--listen: expected HOST:PORT, got '" << listen << "'";
    return 2;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code ec;
  net::ip::address address = net::ip::make_address(host, ec);
  if (ec) {
    VALET_LOG(ERROR) << "--listen: bad address '" << host << "': " << ec.message();
    return 2;
  }

  std::vector<std::unique_ptr<Loop>> loops;
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>();
    if (beast::error_code bind_ec = loop->Bind(endpoint)) {
      VALET_LOG(ERROR) << "cannot listen on " << listen << ": " << bind_ec.message();
      return 1;
    }
    endpoint = loop->local_endpoint();  // Port 0 resolves on the first bind; the rest share it.
    loops.push_back(std::move(loop));
  }
  std::string bound = address.is_v6()
                          ? absl::StrCat("[", address.to_string(), "]:", endpoint.port())
                          : absl::StrCat(address.to_string(), ":", endpoint.port());
  VALET_LOG(INFO) << "listening on " << bound << " (" << threads << " threads, " << body_bytes
                  << "-byte GET bodies)";

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status st = WriteFileAtomically(port_file, absl::StrCat("listen ", bound, "\n"));
    if (!st.ok()) {
      VALET_LOG(ERROR) << "cannot write port file: " << st.ToString();
      return 1;
    }
  }

  net::signal_set signals(loops[0]->ioc(), SIGINT, SIGTERM);
  signals.async_wait([&loops](beast::error_code ec, int signal) {
    if (ec) return;
    VALET_LOG(INFO) << "signal " << signal << ", stopping";
    for (auto& loop : loops) loop->ioc().stop();
  });

  std::vector<std::thread> workers;
  for (auto& loop : loops) {
    loop->Start(body_bytes);
    workers.emplace_back([l = loop.get()] { l->ioc().run(); });
  }
  for (auto& t : workers) t.join();
  VALET_LOG(INFO) << "stopped";
  return 0;
}

}  // namespace
}  // namespace valet

int main(int argc, char** argv) { return valet::Main(argc, argv); }
