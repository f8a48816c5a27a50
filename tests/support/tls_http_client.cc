#include "tests/support/tls_http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"

namespace valet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct TlsHttpClient::Impl {
  asio::io_context io;
  ssl::context context{ssl::context::tls_client};
  std::optional<ssl::stream<tcp::socket>> stream;
  beast::flat_buffer buffer;

  // Runs the loop until `done` or the deadline; at the deadline closes the socket (which ends
  // the pending operation) and says so.
  bool RunUntil(const bool& done, absl::Duration timeout) {
    io.restart();
    io.run_for(absl::ToChronoMilliseconds(timeout));
    if (done) return true;
    boost::system::error_code ignored;
    stream->lowest_layer().close(ignored);
    io.restart();
    io.run();
    return false;
  }
};

TlsHttpClient::TlsHttpClient(std::string host_port, std::string server_name, std::string ca_file,
                             absl::Duration timeout)
    : impl_(std::make_unique<Impl>()),
      host_port_(std::move(host_port)),
      server_name_(std::move(server_name)),
      ca_file_(std::move(ca_file)),
      timeout_(timeout) {
  if (ca_file_.empty()) {
    impl_->context.set_verify_mode(ssl::verify_none);
  } else {
    impl_->context.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    impl_->context.load_verify_file(ca_file_, ec);
  }
}

TlsHttpClient::~TlsHttpClient() { Close(); }

void TlsHttpClient::Close() {
  if (!impl_->stream) return;
  boost::system::error_code ignored;
  impl_->stream->lowest_layer().close(ignored);
  impl_->stream.reset();
  impl_->buffer.clear();
}

absl::Status TlsHttpClient::Connect() {
  Close();
  size_t colon = host_port_.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port_.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", host_port_));
  }
  impl_->stream.emplace(impl_->io, impl_->context);
  SSL* ssl_handle = impl_->stream->native_handle();
  if (!server_name_.empty()) {
    SSL_set_tlsext_host_name(ssl_handle, server_name_.c_str());
    if (!ca_file_.empty()) SSL_set1_host(ssl_handle, server_name_.c_str());
  }
  tcp::endpoint ep(asio::ip::make_address(host_port_.substr(0, colon)),
                   static_cast<unsigned short>(port));
  bool done = false;
  boost::system::error_code result;
  impl_->stream->lowest_layer().async_connect(ep, [&](boost::system::error_code ec) {
    if (ec) {
      result = ec;
      done = true;
      return;
    }
    impl_->stream->async_handshake(ssl::stream_base::client, [&](boost::system::error_code ec) {
      result = ec;
      done = true;
    });
  });
  if (!impl_->RunUntil(done, timeout_)) {
    Close();
    return absl::DeadlineExceededError("TLS connect timed out");
  }
  if (result) {
    Close();
    return absl::UnavailableError(absl::StrCat("TLS connect: ", result.message()));
  }
  ++connections_;
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> TlsHttpClient::Get(const std::string& target) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!impl_->stream) {
      if (absl::Status s = Connect(); !s.ok()) return s;
      fresh = true;
    }
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, server_name_.empty() ? host_port_ : server_name_);
    http::response<http::string_body> res;
    bool done = false;
    boost::system::error_code result;
    bool got_some = false;
    http::async_write(*impl_->stream, req, [&](boost::system::error_code ec, size_t) {
      if (ec) {
        result = ec;
        done = true;
        return;
      }
      http::async_read(*impl_->stream, impl_->buffer, res,
                       [&](boost::system::error_code ec, size_t n) {
                         got_some = n > 0;
                         result = ec;
                         done = true;
                       });
    });
    if (!impl_->RunUntil(done, timeout_)) {
      Close();
      return absl::DeadlineExceededError("HTTPS request timed out");
    }
    if (result) {
      Close();
      // A kept-alive connection the server closed: once more on a new one.
      if (!fresh && !got_some) continue;
      return absl::UnavailableError(absl::StrCat("HTTPS request: ", result.message()));
    }
    HttpResponse out;
    out.status = res.result_int();
    out.reason = std::string(res.reason());
    for (const auto& field : res) {
      out.fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.headers = ToHeaderMap(out.fields);
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    out.reused_connection = !fresh;
    if (!res.keep_alive()) Close();
    return out;
  }
  return absl::UnavailableError("HTTPS request: the connection closed twice");
}

std::string TlsHttpClient::PeerCommonName() const {
  if (!impl_->stream) return "";
  X509* cert = SSL_get1_peer_certificate(impl_->stream->native_handle());
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  return cn;
}

}  // namespace valet::testing
