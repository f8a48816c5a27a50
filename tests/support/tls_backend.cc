#include "tests/support/tls_backend.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "nlohmann/json.hpp"

namespace valet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct TlsBackend::Impl {
  std::string name;
  asio::io_context io;
  ssl::context context{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<int> connections{0};
  std::atomic<int> requests{0};
  int port = 0;
  int next_id = 0;

  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl& impl, tcp::socket socket, int id)
        : impl(impl), stream(std::move(socket), impl.context), id(id) {}
    Impl& impl;
    ssl::stream<tcp::socket> stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    int id;

    void Start() {
      stream.async_handshake(ssl::stream_base::server,
                             [self = shared_from_this()](beast::error_code ec) {
                               if (ec) return;
                               ++self->impl.connections;
                               self->Read();
                             });
    }
    void Read() {
      request = {};
      http::async_read(stream, buffer, request,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return;
                         self->Answer();
                       });
    }
    void Answer() {
      ++impl.requests;
      nlohmann::json body = {
          {"backend", impl.name},
          {"connection", id},
          {"target", std::string(request.target())},
          {"forwarded_proto", std::string(request["X-Forwarded-Proto"])},
          {"host", std::string(request[http::field::host])},
      };
      response = {};
      response.result(200);
      response.version(11);
      response.set(http::field::content_type, "application/json");
      response.body() = body.dump();
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::async_write(stream, response,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec || !self->response.keep_alive()) return;
                          self->Read();
                        });
    }
  };

  void Accept() {
    // The Impl outlives its loop (the destructor joins the thread first).
    acceptor.async_accept([self = this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Connection>(*self, std::move(socket), ++self->next_id)->Start();
      self->Accept();
    });
  }
};

absl::StatusOr<std::unique_ptr<TlsBackend>> TlsBackend::Start(const std::string& name,
                                                              const std::string& cert_file,
                                                              const std::string& key_file) {
  auto impl = std::make_shared<Impl>();
  impl->name = name;
  beast::error_code ec;
  impl->context.use_certificate_chain_file(cert_file, ec);
  if (!ec) impl->context.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("TLS backend: ", ec.message()));
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("TLS backend: ", ec.message()));
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  return std::unique_ptr<TlsBackend>(new TlsBackend(std::move(impl)));
}

TlsBackend::~TlsBackend() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int TlsBackend::port() const { return impl_->port; }
int TlsBackend::connections() const { return impl_->connections; }
int TlsBackend::requests() const { return impl_->requests; }

}  // namespace valet::testing
