#include "tests/support/websocket_echo.h"

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/websocket.hpp"

namespace valet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct WebSocketEcho::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  mutable absl::Mutex mu;
  std::vector<std::string> targets ABSL_GUARDED_BY(mu);
  std::vector<HeaderList> fields ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<tcp::socket>> sockets ABSL_GUARDED_BY(mu);
  std::vector<std::thread> threads ABSL_GUARDED_BY(mu);
  int port = 0;
  std::atomic<int> open{0};
  std::atomic<bool> stopping{false};

  void Serve(std::shared_ptr<tcp::socket> socket) {
    open++;
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(*socket, buffer, req, ec);
    if (!ec && websocket::is_upgrade(req)) {
      {
        absl::MutexLock lock(&mu);
        targets.emplace_back(req.target());
        HeaderList list;
        for (const auto& f : req) list.emplace_back(f.name_string(), f.value());
        fields.push_back(std::move(list));
      }
      websocket::stream<tcp::socket&> ws(*socket);
      ws.accept(req, ec);
      // Bounded by the peer: ends when it closes or the server stops.
      while (!ec && !stopping) {
        beast::flat_buffer message;
        ws.read(message, ec);
        if (ec) break;
        ws.text(ws.got_text());
        ws.write(message.data(), ec);
      }
    }
    {
      // Under mu: the destructor shuts the sockets down from its thread (an asio socket is not
      // safe to close on one thread while another uses it).
      absl::MutexLock lock(&mu);
      socket->close(ec);
    }
    open--;
  }
};

absl::StatusOr<std::unique_ptr<WebSocketEcho>> WebSocketEcho::Start() {
  auto state = std::make_shared<State>();
  beast::error_code ec;
  state->acceptor.open(tcp::v4(), ec);
  if (!ec) state->acceptor.bind({asio::ip::make_address("127.0.0.1"), 0}, ec);
  if (!ec) state->acceptor.listen(64, ec);
  if (ec) return absl::UnavailableError("websocket echo: " + ec.message());
  state->port = state->acceptor.local_endpoint().port();
  state->accept_thread = std::thread([s = state.get()] {
    while (!s->stopping) {
      auto socket = std::make_shared<tcp::socket>(s->io);
      beast::error_code ec;
      s->acceptor.accept(*socket, ec);
      if (ec) return;
      absl::MutexLock lock(&s->mu);
      s->sockets.push_back(socket);
      s->threads.emplace_back([s, socket] { s->Serve(socket); });
    }
  });
  return std::unique_ptr<WebSocketEcho>(new WebSocketEcho(std::move(state)));
}

WebSocketEcho::WebSocketEcho(std::shared_ptr<State> state) : state_(std::move(state)) {}

WebSocketEcho::~WebSocketEcho() {
  state_->stopping = true;
  beast::error_code ec;
  // shutdown(2) on the listening socket wakes the blocking accept (close alone does not).
  ::shutdown(state_->acceptor.native_handle(), SHUT_RDWR);
  state_->accept_thread.join();
  state_->acceptor.close(ec);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&state_->mu);
    for (auto& s : state_->sockets) s->shutdown(tcp::socket::shutdown_both, ec);
    threads.swap(state_->threads);
  }
  for (auto& t : threads) t.join();
}

int WebSocketEcho::port() const { return state_->port; }

std::vector<std::string> WebSocketEcho::handshake_targets() const {
  absl::MutexLock lock(&state_->mu);
  return state_->targets;
}

std::vector<HeaderList> WebSocketEcho::handshake_fields() const {
  absl::MutexLock lock(&state_->mu);
  return state_->fields;
}

int WebSocketEcho::open_connections() const { return state_->open.load(); }

}  // namespace valet::testing
