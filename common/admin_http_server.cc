#include "common/admin_http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/string.hpp"
#include "boost/beast/core/tcp_stream.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/string_body.hpp"
#include "boost/beast/http/write.hpp"
#include "common/acceptor.h"
#include "common/error_body.h"
#include "common/http_framing.h"
#include "common/listen_address.h"
#include "common/logging.h"

namespace valet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr std::chrono::seconds kIoTimeout{30};
// Stop waits this long for answers already given to be written.
constexpr std::chrono::milliseconds kStopGrace{500};
// After an answer that closes the connection, what the client still sends (an unread body, the
// rest of an oversized header) is read and dropped for at most this long and this much: closing
// with unread bytes would reset the connection and could destroy the answer.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerMaxBytes = 1 << 20;

// The server's own answers (malformed requests) use the one error shape (common/error_body.h),
// with the gateway's codes for the same refusals.
AdminResponse ErrorAnswer(int status, std::string_view code, std::string_view message) {
  return {status, RenderErrorBody({status, std::string(code), std::string(message)})};
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category();
}

}  // namespace

namespace {
class AdminSession;
}  // namespace

// Shared by the server, its sessions and answers still on their way: keeps the io_context alive
// until the last of them is gone, and says whether it still runs.
struct AdminHttpServer::Impl {
  explicit Impl(Options o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  Options options;
  Handler handler;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_backoff{io};
  std::thread thread;
  // Server thread only: the live connections, so Stop can close them.
  std::vector<std::weak_ptr<AdminSession>> sessions;
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

namespace {

// One admin connection; owns itself.
class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  using Impl = AdminHttpServer::Impl;

  AdminSession(tcp::socket socket, std::weak_ptr<Impl> impl)
      : stream_(std::move(socket)), impl_(std::move(impl)) {}

  // Server thread: closes the connection (Stop).
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  bool writing() const { return writing_; }

  void Read(const AdminHttpServer::Options& options) {
    limits_ = {options.max_body_bytes, options.max_header_bytes, options.max_target_bytes};
    Read();
  }

 private:
  struct Limits {
    size_t body = 0;
    size_t header = 0;
    size_t target = 0;
  };

  void Read() {
    parser_.emplace();
    parser_->body_limit(limits_.body);
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(limits_.header, std::numeric_limits<std::uint32_t>::max())));
    stream_.expires_after(kIoTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    head_ = false;
    if (ec == http::error::body_limit) {
      return Reply(ErrorAnswer(413, "body_too_large", "request body too large"), false);
    }
    if (ec == http::error::header_limit) {
      if (RequestLineTooLong()) {
        return Reply(ErrorAnswer(414, "uri_too_long", TargetTooLongMessage()), false);
      }
      return Reply(
          ErrorAnswer(431, "header_too_large",
                      absl::StrCat("request header larger than ", limits_.header, " bytes")),
          false);
    }
    if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return Reply(ErrorAnswer(400, "bad_request", "malformed request: " + ec.message()), false);
    }
    // EOF (also in the middle of a request), timeout or reset: nobody to answer.
    if (ec) return Shutdown();
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    head_ = req.method() == http::verb::head;
    if (absl::Status framing = CheckFraming(req); !framing.ok()) {
      return Reply(
          ErrorAnswer(400, "bad_request", absl::StrCat("malformed request: ", framing.message())),
          false);
    }
    if (req.target().size() > limits_.target) {
      return Reply(ErrorAnswer(414, "uri_too_long", TargetTooLongMessage()), false);
    }
    std::shared_ptr<Impl> impl = impl_.lock();
    if (impl == nullptr) return;
    AdminRequest request{std::string(req.method_string()), std::string(req.target()),
                         std::move(req.body()), std::string(req[http::field::authorization])};
    // The answer may come later from another thread: it is posted back to the server's thread,
    // unless the server has stopped by then. A pending answer keeps the io_context alive; its
    // members die in reverse order, so the session (and its socket) goes first.
    struct Pending {
      std::shared_ptr<Impl> impl;
      std::shared_ptr<AdminSession> self;
    };
    auto pending = std::make_shared<Pending>(Pending{impl, shared_from_this()});
    answered_ = false;
    cancel_ = impl->handler(request, [pending](AdminResponse response) {
      absl::MutexLock lock(&pending->impl->mu);
      if (pending->impl->stopped) return;
      asio::post(pending->impl->io,
                 [self = pending->self, response = std::move(response)]() mutable {
                   self->Reply(std::move(response), self->keep_alive_);
                 });
    });
    if (cancel_ && !answered_) WatchForHangUp();
  }

  // After header_limit: whether the request line alone is too long (414 rather than 431). The
  // parser has either taken the line (the target is set) or left it in the buffer.
  bool RequestLineTooLong() {
    std::string_view target = parser_->get().target();
    if (!target.empty()) return target.size() > limits_.target;
    std::string_view unparsed(static_cast<const char*>(buffer_.data().data()),
                              buffer_.data().size());
    size_t eol = unparsed.find('\n');
    // "METHOD SP target SP HTTP/1.1": the line is longer than the target by a few bytes only.
    return eol == std::string_view::npos || eol > limits_.target;
  }

  std::string TargetTooLongMessage() const {
    return absl::StrCat("request target longer than ", limits_.target, " bytes");
  }

  // While an answer is pending, a client that closes its end cancels it.
  void WatchForHangUp() {
    stream_.socket().async_wait(
        tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
          if (self->answered_ || !self->cancel_) return;
          char byte;
          ssize_t n =
              ::recv(self->stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
          // Data (a pipelined request) is no hang-up; EOF or an error is.
          if (!ec && n > 0) return;
          AdminHttpServer::Cancel cancel = std::move(self->cancel_);
          cancel();
        });
  }

  void Reply(AdminResponse response, bool keep_alive) {
    answered_ = true;
    cancel_ = nullptr;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // The hang-up watch, if any.
    std::shared_ptr<Impl> impl = impl_.lock();
    res_ = {static_cast<http::status>(response.status), 11};
    if (impl != nullptr && !impl->options.server_name.empty()) {
      res_.set(http::field::server, impl->options.server_name);
    }
    res_.set(http::field::content_type, response.content_type);
    if (!response.allow.empty()) res_.set(http::field::allow, response.allow);
    if (!response.etag.empty()) res_.set(http::field::etag, response.etag);
    size_t length = response.body.size();
    if (!head_) res_.body() = std::move(response.body);
    res_.content_length(length);  // For HEAD: the length a GET would get, and no body.
    res_.keep_alive(keep_alive);
    stream_.expires_after(kIoTimeout);
    writing_ = true;
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec) return;
      if (!self->res_.keep_alive()) return self->Shutdown();
      self->Read();
    });
  }

  // Ends our side; drops what the client still sends, then closes (see kLingerTime).
  void Shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);  // One deadline for the whole linger.
    Linger(0);
  }

  void Linger(size_t discarded) {
    if (discarded >= kLingerMaxBytes) return Close();
    linger_buffer_.resize(16 << 10);
    stream_.async_read_some(asio::buffer(linger_buffer_),
                            [self = shared_from_this(), discarded](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->Linger(discarded + n);
                            });
  }

  beast::tcp_stream stream_;
  std::weak_ptr<Impl> impl_;  // Weak: the io_context owns this session's handlers.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::string linger_buffer_;
  Limits limits_;
  bool keep_alive_ = true;
  bool head_ = false;
  bool writing_ = false;
  bool answered_ = true;
  AdminHttpServer::Cancel cancel_;
};

void Accept(const std::shared_ptr<AdminHttpServer::Impl>& impl) {
  std::weak_ptr<AdminHttpServer::Impl> weak = impl;
  impl->acceptor.async_accept(impl->io, [weak](beast::error_code ec, tcp::socket socket) {
    std::shared_ptr<AdminHttpServer::Impl> impl = weak.lock();
    if (impl == nullptr || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, most likely: back off instead of spinning on a readable listener.
      VALET_LOG(WARNING) << "admin accept: " << ec.message();
      impl->accept_backoff.expires_after(std::chrono::milliseconds(100));
      impl->accept_backoff.async_wait([weak](beast::error_code wait_ec) {
        std::shared_ptr<AdminHttpServer::Impl> impl = weak.lock();
        if (!wait_ec && impl != nullptr) Accept(impl);
      });
      return;
    }
    auto session = std::make_shared<AdminSession>(std::move(socket), impl);
    std::erase_if(impl->sessions, [](const auto& s) { return s.expired(); });
    impl->sessions.push_back(session);
    session->Read(impl->options);
    Accept(impl);
  });
}

// Closes every connection once none is writing an answer (or at `deadline`), then stops the loop.
void CloseWhenWritten(const std::shared_ptr<AdminHttpServer::Impl>& impl,
                      std::chrono::steady_clock::time_point deadline) {
  bool writing = false;
  for (auto& weak : impl->sessions) {
    if (auto s = weak.lock(); s && s->writing()) writing = true;
  }
  if (writing && std::chrono::steady_clock::now() < deadline) {
    auto timer = std::make_shared<asio::steady_timer>(impl->io, std::chrono::milliseconds(10));
    timer->async_wait(
        [timer, impl, deadline](beast::error_code) { CloseWhenWritten(impl, deadline); });
    return;
  }
  for (auto& weak : impl->sessions) {
    if (auto s = weak.lock()) s->Close();
  }
  impl->io.stop();
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(std::string_view listen,
                                                                        Options options,
                                                                        Handler handler) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseListenAddress(listen);
  if (!endpoint.ok()) return endpoint.status();
  auto impl = std::make_shared<Impl>(std::move(options), std::move(handler));
  if (absl::Status opened = OpenAcceptor(impl->acceptor, *endpoint); !opened.ok()) return opened;
  std::unique_ptr<AdminHttpServer> server(new AdminHttpServer(impl));
  beast::error_code ec;
  server->local_endpoint_ = impl->acceptor.local_endpoint(ec);
  Accept(impl);
  impl->thread = std::thread([impl] { impl->io.run(); });
  return server;
}

AdminHttpServer::AdminHttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminHttpServer::~AdminHttpServer() { Stop(); }

void AdminHttpServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stopped = true;
  }
  // On the server's thread: accept no more, let answers already being written finish (briefly),
  // then close every connection.
  std::shared_ptr<Impl> impl = impl_;
  asio::post(impl->io, [impl] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_backoff.cancel();
    CloseWhenWritten(impl, std::chrono::steady_clock::now() + kStopGrace);
  });
  impl->thread.join();
}

}  // namespace valet
