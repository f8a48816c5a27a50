#include "controlplane/rest_admin.h"

#include <charconv>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/app_config_json.h"
#include "common/logging.h"
#include "google/protobuf/util/json_util.h"

namespace valet {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kMaxBodyBytes = 8 << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(60);


AdminResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  nlohmann::ordered_json j = {{"error", {{"status", status}, {"code", code}, {"message", message}}}};
  return {status, j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"};
}

AdminResponse ErrorResponse(const absl::Status& status) {
  return ErrorResponse(HttpStatusForCode(status.code()),
                       std::string(absl::StatusCodeToString(status.code())),
                       std::string(status.message()));
}

AdminResponse JsonResponse(const google::protobuf::Message& message, bool print_zero_fields) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = print_zero_fields;
  options.add_whitespace = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return ErrorResponse(500, "INTERNAL", std::string(status.message()));
  return {200, std::move(out)};
}

template <typename T>
AdminResponse FromResult(const absl::StatusOr<T>& result, bool print_zero_fields) {
  if (!result.ok()) return ErrorResponse(result.status());
  return JsonResponse(*result, print_zero_fields);
}

struct Query {
  bool dry_run = false;
  uint64_t expected_version = 0;
  uint64_t version = 0;
  uint32_t timeout_ms = 0;
};

absl::StatusOr<uint64_t> ParseUint(std::string_view key, std::string_view value) {
  uint64_t v = 0;
  auto [end, err] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || err != std::errc() || end != value.data() + value.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query parameter ", std::string(key), ": expected a number, got \"",
                     std::string(value), "\""));
  }
  return v;
}

absl::StatusOr<Query> ParseQuery(std::string_view query) {
  Query q;
  for (absl::string_view part : absl::StrSplit(absl::string_view(query.data(), query.size()), '&',
                                               absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (key == "dry_run") {
      if (value == "true" || value == "1" || value.empty()) {
        q.dry_run = true;
      } else if (value == "false" || value == "0") {
        q.dry_run = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter dry_run: expected true or false, got \"", value, "\""));
      }
    } else if (key == "expected_version" || key == "version" || key == "timeout_ms") {
      absl::StatusOr<uint64_t> v = ParseUint(key, value);
      if (!v.ok()) return v.status();
      if (key == "expected_version") q.expected_version = *v;
      if (key == "version") q.version = *v;
      if (key == "timeout_ms") q.timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(*v, 1u << 31));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown query parameter \"", key, "\""));
    }
  }
  return q;
}

AdminResponse MethodNotAllowed(const std::string& method, std::string_view path) {
  return ErrorResponse(405, "METHOD_NOT_ALLOWED",
                       absl::StrCat(method, " is not allowed on ", std::string(path)));
}

AdminResponse PutApp(ControlApi* api, const std::string& name, const std::string& body,
                     const Query& q) {
  absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(body, "request");
  if (!app.ok()) return ErrorResponse(app.status());
  if (app->name().empty()) {
    app->set_name(name);
  } else if (app->name() != name) {
    return ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
        "request: name: \"", app->name(), "\" does not match the path's \"", name, "\"")));
  }
  v1::ApplyAppsRequest request;
  *request.add_apps() = std::move(*app);
  request.set_dry_run(q.dry_run);
  request.set_expected_version(q.expected_version);
  return FromResult(api->ApplyApps(request, "request"), true);
}

}  // namespace

void HandleAdminRequest(ControlApi* api, const AdminRequest& request,
                        std::function<void(AdminResponse)> done) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
  absl::StatusOr<Query> q = ParseQuery(query);
  if (!q.ok()) return done(ErrorResponse(q.status()));
  const std::string& m = request.method;
  constexpr std::string_view kAppsPrefix = "/v1/apps/";

  if (path == "/v1/apps") {
    if (m != "GET") return done(MethodNotAllowed(m, path));
    return done(JsonResponse(api->ListApps(), false));
  }
  if (path.substr(0, kAppsPrefix.size()) == kAppsPrefix &&
      path.find('/', kAppsPrefix.size()) == std::string_view::npos &&
      path.size() > kAppsPrefix.size()) {
    std::string name(path.substr(kAppsPrefix.size()));
    if (m == "GET") {
      v1::GetAppRequest r;
      r.set_name(name);
      return done(FromResult(api->GetApp(r), false));
    }
    if (m == "PUT") return done(PutApp(api, name, request.body, *q));
    if (m == "DELETE") {
      v1::DeleteAppRequest r;
      r.set_name(name);
      r.set_expected_version(q->expected_version);
      r.set_dry_run(q->dry_run);
      return done(FromResult(api->DeleteApp(r), true));
    }
    return done(MethodNotAllowed(m, path));
  }
  if (path == "/v1/reload") {
    if (m != "POST") return done(MethodNotAllowed(m, path));
    return done(FromResult(api->Reload(), true));
  }
  if (path == "/v1/dataplanes") {
    if (m != "GET") return done(MethodNotAllowed(m, path));
    return done(JsonResponse(api->ListDataPlanes(), true));
  }
  if (path == "/v1/version") {
    if (m != "GET") return done(MethodNotAllowed(m, path));
    return done(JsonResponse(api->GetVersion(), true));
  }
  if (path == "/v1/wait") {
    if (m != "GET") return done(MethodNotAllowed(m, path));
    v1::WaitForVersionRequest r;
    r.set_version(q->version);
    r.set_timeout_ms(q->timeout_ms);
    api->WaitForVersion(r, [done = std::move(done)](
                               absl::StatusOr<v1::WaitForVersionResponse> result) {
      done(FromResult(result, true));
    });
    return;
  }
  done(ErrorResponse(404, "NOT_FOUND", absl::StrCat("no such resource: ", std::string(path))));
}

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kFailedPrecondition: return 409;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

absl::Status SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\": expected HOST:PORT"));
  }
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string_view p(address);
  p.remove_prefix(colon + 1);
  unsigned v = 0;
  auto [end, err] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (err != std::errc() || end != p.data() + p.size() || v > 65535 || h.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", address, "\": expected HOST:PORT"));
  }
  *host = std::move(h);
  *port = static_cast<uint16_t>(v);
  return absl::OkStatus();
}

// Shared by the server and by answers that arrive after a wait: keeps the io_context alive until
// the last of them is gone, and says whether it still runs.
struct IoHolder {
  net::io_context io{1};
  absl::Mutex mu;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ControlApi* api, std::weak_ptr<IoHolder> holder)
      : stream_(std::move(socket)), api_(api), holder_(std::move(holder)) {}

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
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec == http::error::body_limit) {
      return Reply(ErrorResponse(413, "PAYLOAD_TOO_LARGE", "request body too large"), false);
    }
    if (ec) return;  // Timeout, reset or garbage: drop the connection.
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    AdminRequest request{std::string(req.method_string()), std::string(req.target()),
                         std::move(req.body())};
    // The answer may come later from another thread (GET /v1/wait): post it back to the I/O
    // thread. The pending answer holds the io_context alive, destroying the session first.
    struct Pending {
      std::shared_ptr<IoHolder> holder;
      std::shared_ptr<Session> self;
    };
    std::shared_ptr<IoHolder> holder = holder_.lock();
    if (holder == nullptr) return;
    auto pending = std::make_shared<Pending>(Pending{std::move(holder), shared_from_this()});
    HandleAdminRequest(api_, request, [pending](AdminResponse response) {
      absl::MutexLock lock(&pending->holder->mu);
      if (pending->holder->stopped) return;
      net::post(pending->holder->io, [self = pending->self, response = std::move(response)] {
        self->Reply(response, self->keep_alive_);
      });
    });
  }

  void Reply(const AdminResponse& response, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<http::status>(response.status));
    res_.set(http::field::server, "valet-controlplane");
    res_.set(http::field::content_type, "application/json");
    res_.body() = response.body;
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return;
    if (!res_.keep_alive()) return DoClose();
    DoRead();
  }

  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  ControlApi* const api_;
  std::weak_ptr<IoHolder> holder_;  // Weak: the io_context owns this session's handlers.
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool keep_alive_ = true;
};

}  // namespace

struct RestAdmin::Impl {
  ControlApi* api;
  std::shared_ptr<IoHolder> holder = std::make_shared<IoHolder>();
  tcp::acceptor acceptor{holder->io};
  std::thread thread;

  void DoAccept() {
    // One I/O thread: no strand needed.
    acceptor.async_accept(holder->io,
                          [this](beast::error_code ec, tcp::socket socket) {
                            if (ec) {
                              if (ec == net::error::operation_aborted) return;
                              VALET_LOG(WARNING) << "admin accept: " << ec.message();
                            } else {
                              std::make_shared<Session>(std::move(socket), api, holder)->Run();
                            }
                            DoAccept();
                          });
  }
};

absl::StatusOr<std::unique_ptr<RestAdmin>> RestAdmin::Start(ControlApi* api,
                                                            const std::string& listen) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = SplitHostPort(listen, &host, &port); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->api = api;
  beast::error_code ec;
  tcp::resolver resolver(impl->holder->io);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen ", listen, ": ", ec.message()));
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, ": ", ec.message()));
  }
  tcp::endpoint bound = impl->acceptor.local_endpoint(ec);
  std::string bound_host = bound.address().to_string();
  if (bound.address().is_v6()) bound_host = absl::StrCat("[", bound_host, "]");
  std::unique_ptr<RestAdmin> admin(new RestAdmin(std::move(impl)));
  admin->bound_address_ = absl::StrCat(bound_host, ":", bound.port());
  admin->impl_->DoAccept();
  admin->impl_->thread = std::thread([holder = admin->impl_->holder] { holder->io.run(); });
  return admin;
}

RestAdmin::RestAdmin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestAdmin::~RestAdmin() { Stop(); }

void RestAdmin::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  {
    absl::MutexLock lock(&impl_->holder->mu);
    impl_->holder->stopped = true;
  }
  impl_->holder->io.stop();
  impl_->thread.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace valet
