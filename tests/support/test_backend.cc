#include "tests/support/test_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tests/support/process.h"

namespace valet::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kEchoBodyLimit = 4096;

}  // namespace

// ---- BackendReply ------------------------------------------------------------------------------

BackendReply BackendReply::Respond(int status, std::string body, HeaderList headers) {
  BackendReply r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

BackendReply BackendReply::Json(int status, std::string json_body) {
  return Respond(status, std::move(json_body), {{"Content-Type", "application/json"}});
}

BackendReply BackendReply::Chunked(int status, std::vector<std::string> pieces,
                                   HeaderList headers) {
  BackendReply r = Respond(status, "", std::move(headers));
  r.chunks = std::move(pieces);
  return r;
}

BackendReply BackendReply::Reset() {
  BackendReply r;
  r.action = Action::kReset;
  return r;
}

BackendReply BackendReply::Close() {
  BackendReply r;
  r.action = Action::kClose;
  return r;
}

BackendReply BackendReply::Raw(std::string bytes) {
  BackendReply r;
  r.action = Action::kRaw;
  r.raw = std::move(bytes);
  return r;
}

BackendReply BackendReply::RawKeepOpen(std::string bytes) {
  BackendReply r = Raw(std::move(bytes));
  r.raw_keep_open = true;
  return r;
}

BackendReply BackendReply::Held() const {
  BackendReply r = *this;
  r.held = true;
  return r;
}

BackendReply BackendReply::After(std::chrono::milliseconds d) const {
  BackendReply r = *this;
  r.delay = d;
  return r;
}

std::string Fnv1a64Hex(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// ---- State and sessions ------------------------------------------------------------------------

struct TestBackend::State {
  std::string name;
  int port = 0;
  std::unique_ptr<net::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;

  mutable absl::Mutex mu;
  Handler handler ABSL_GUARDED_BY(mu);
  std::vector<RecordedRequest> log ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // One per held reply: resumes its session (on the session's strand). Cleared by Stop before
  // the io_context goes, since each holds its session alive.
  std::vector<std::function<void()>> held ABSL_GUARDED_BY(mu);

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> requests{0};

  Handler CurrentHandler() const {
    absl::MutexLock lock(&mu);
    return handler;
  }
};

namespace {

// One accepted connection. Owns itself through shared_from_this; all its work runs on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, TestBackend::State* state, uint64_t id)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), state_(state), id_(id) {
    state_->open.fetch_add(1);
  }
  ~Session() { state_->open.fetch_sub(1); }

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(256 * 1024 * 1024);
    parser_->header_limit(1024 * 1024);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;  // The session ends when the last handler holding it returns.
    }
    auto& req = parser_->get();
    RecordedRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    rec.version = req.version();
    for (const auto& f : req) {
      rec.fields.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    rec.body = std::move(req.body());
    rec.chunked = req.chunked();
    rec.connection_id = id_;
    rec.index_on_connection = index_++;
    request_keep_alive_ = req.keep_alive();
    head_request_ = req.method() == http::verb::head;
    {
      absl::MutexLock lock(&state_->mu);
      state_->log.push_back(rec);
    }
    state_->requests.fetch_add(1);

    Handler handler = state_->CurrentHandler();
    reply_ = handler ? handler(rec) : TestBackend::EchoReply(rec, state_->name, state_->port);
    if (reply_.delay.count() > 0) {
      timer_.expires_after(reply_.delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->HoldThenAct();
      });
      return;
    }
    HoldThenAct();
  }

  void HoldThenAct() {
    if (!reply_.held) return Act();
    absl::MutexLock lock(&state_->mu);
    if (state_->stopped) return;
    state_->held.push_back([self = shared_from_this()] {
      net::post(self->stream_.get_executor(), [self] { self->Act(); });
    });
  }

  void Act() {
    beast::error_code ignored;
    switch (reply_.action) {
      case BackendReply::Action::kReset:
        stream_.socket().set_option(net::socket_base::linger(true, 0), ignored);
        stream_.socket().close(ignored);
        return;
      case BackendReply::Action::kClose:
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
        return;
      case BackendReply::Action::kRaw:
        net::async_write(stream_, net::buffer(reply_.raw),
                         [self = shared_from_this()](beast::error_code ec, size_t) {
                           self->Finish(!ec && self->reply_.raw_keep_open);
                         });
        return;
      case BackendReply::Action::kRespond:
        break;
    }
    keep_alive_ = request_keep_alive_ && !reply_.close_after;
    if (!reply_.chunks.empty()) {
      WriteChunkedHead();
      return;
    }
    res_.emplace();
    res_->result(static_cast<unsigned>(reply_.status));
    res_->version(11);
    for (const auto& [n, v] : reply_.headers) res_->insert(n, v);
    res_->keep_alive(keep_alive_);
    if (CountFields(reply_.headers, "Content-Length") == 0 &&
        CountFields(reply_.headers, "Transfer-Encoding") == 0) {
      res_->content_length(reply_.body.size());
    }
    if (!head_request_) res_->body() = std::move(reply_.body);
    http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->Finish(!ec && self->keep_alive_);
    });
  }

  void WriteChunkedHead() {
    chunked_res_.emplace();
    chunked_res_->result(static_cast<unsigned>(reply_.status));
    chunked_res_->version(11);
    for (const auto& [n, v] : reply_.headers) chunked_res_->insert(n, v);
    chunked_res_->keep_alive(keep_alive_);
    chunked_res_->chunked(true);
    serializer_.emplace(*chunked_res_);
    http::async_write_header(stream_, *serializer_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->Finish(false);
                               self->WriteChunk(0);
                             });
  }

  void WriteChunk(size_t i) {
    while (i < reply_.chunks.size() && reply_.chunks[i].empty()) ++i;
    if (i == reply_.chunks.size()) {
      net::async_write(stream_, http::make_chunk_last(),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->Finish(!ec && self->keep_alive_);
                       });
      return;
    }
    net::async_write(stream_, http::make_chunk(net::buffer(reply_.chunks[i])),
                     [self = shared_from_this(), i](beast::error_code ec, size_t) {
                       if (ec) return self->Finish(false);
                       self->WriteChunk(i + 1);
                     });
  }

  void Finish(bool keep_alive) {
    if (keep_alive) {
      DoRead();
      return;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    // Drain what the peer still sends until it closes, so our close does not turn into a reset
    // that could destroy the response in flight.
    DrainThenClose();
  }

  void DrainThenClose() {
    stream_.expires_after(std::chrono::seconds(5));
    stream_.async_read_some(net::buffer(drain_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) return self->DrainThenClose();
                              beast::error_code ignored;
                              self->stream_.socket().close(ignored);
                            });
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  TestBackend::State* state_;
  uint64_t id_;
  int index_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool request_keep_alive_ = true;
  bool head_request_ = false;
  bool keep_alive_ = true;
  BackendReply reply_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::empty_body>> chunked_res_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  char drain_[4096];
};

void DoAccept(TestBackend::State* state) {
  state->acceptor->async_accept(
      net::make_strand(*state->ioc), [state](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !state->acceptor->is_open()) return;
        if (!ec) {
          uint64_t id = state->accepted.fetch_add(1) + 1;
          std::make_shared<Session>(std::move(socket), state, id)->Run();
        }
        DoAccept(state);
      });
}

}  // namespace

// ---- TestBackend -------------------------------------------------------------------------------

TestBackend::TestBackend(std::shared_ptr<State> state) : state_(std::move(state)) {
  port_ = state_->port;
}

absl::StatusOr<std::unique_ptr<TestBackend>> TestBackend::Start(Options options) {
  auto state = std::make_shared<State>();
  state->name = options.name;
  state->handler = std::move(options.handler);
  state->ioc = std::make_unique<net::io_context>(options.threads);
  state->acceptor.emplace(net::make_strand(*state->ioc));
  beast::error_code ec;
  tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"),
                         static_cast<unsigned short>(options.port));
  state->acceptor->open(endpoint.protocol(), ec);
  if (!ec) state->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor->bind(endpoint, ec);
  if (!ec) state->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("test backend: bind 127.0.0.1:", options.port, ": ", ec.message()));
  }
  state->port = state->acceptor->local_endpoint().port();
  DoAccept(state.get());
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    state->threads.emplace_back([ioc = state->ioc.get()] { ioc->run(); });
  }
  return std::unique_ptr<TestBackend>(new TestBackend(std::move(state)));
}

TestBackend::~TestBackend() { Stop(); }

void TestBackend::Stop() {
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->stopped) return;
    state_->stopped = true;
  }
  // Close the listener on an io thread (the acceptor is not thread-safe), then stop everything.
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> closed_future = closed->get_future();
  net::post(state_->acceptor->get_executor(), [s = state_.get(), closed] {
    beast::error_code ignored;
    s->acceptor->close(ignored);
    closed->set_value();
  });
  // Bounded: a handler stuck in user code must not hang the test forever.
  closed_future.wait_for(std::chrono::seconds(2));
  state_->ioc->stop();
  for (auto& t : state_->threads) t.join();
  state_->threads.clear();
  // Held replies own their sessions: let them go while the io_context they use still exists.
  std::vector<std::function<void()>> held;
  {
    absl::MutexLock lock(&state_->mu);
    held.swap(state_->held);
  }
  held.clear();
  // Destroying the io_context destroys every pending handler, hence every session and its socket.
  state_->acceptor.reset();
  state_->ioc.reset();
}

std::string TestBackend::host_port() const { return absl::StrCat("127.0.0.1:", port_); }
const std::string& TestBackend::name() const { return state_->name; }

void TestBackend::SetHandler(Handler handler) {
  absl::MutexLock lock(&state_->mu);
  state_->handler = std::move(handler);
}

uint64_t TestBackend::accepted_connections() const { return state_->accepted.load(); }
uint64_t TestBackend::open_connections() const { return state_->open.load(); }
uint64_t TestBackend::request_count() const { return state_->requests.load(); }

std::vector<RecordedRequest> TestBackend::requests() const {
  absl::MutexLock lock(&state_->mu);
  return state_->log;
}

void TestBackend::ClearRequests() {
  absl::MutexLock lock(&state_->mu);
  state_->log.clear();
}

void TestBackend::ReleaseHeld() {
  std::vector<std::function<void()>> held;
  {
    absl::MutexLock lock(&state_->mu);
    held.swap(state_->held);
  }
  for (auto& resume : held) resume();
}

size_t TestBackend::held_count() const {
  absl::MutexLock lock(&state_->mu);
  return state_->held.size();
}

bool TestBackend::WaitForRequests(uint64_t n, absl::Duration timeout) const {
  return WaitFor([&] { return request_count() >= n; }, timeout);
}

BackendReply TestBackend::EchoReply(const RecordedRequest& request, const std::string& name,
                                    int port) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& [n, v] : request.fields) headers.push_back({n, v});
  nlohmann::json j = {
      {"backend", name},
      {"port", port},
      {"connection", request.connection_id},
      {"method", request.method},
      {"target", request.target},
      {"headers", headers},
      {"body_length", request.body.size()},
      {"body_fnv1a64", Fnv1a64Hex(request.body)},
  };
  if (request.body.size() <= kEchoBodyLimit) j["body"] = request.body;
  BackendReply reply =
      BackendReply::Json(200, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  reply.headers.emplace_back("X-Backend-Name", name);
  return reply;
}

absl::StatusOr<int> PickClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind: ", std::strerror(err)));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

}  // namespace valet::testing
