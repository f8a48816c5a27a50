// A small HTTP/1.1 server for admin endpoints (the data plane's /healthz, /readyz, /metrics; the
// control plane's REST admin): its own thread and io_context, so a busy proxy never delays a probe,
// keep-alive, a deadline on every read and write, a bound on the request body, HEAD answered
// without a body.
//
// Malformed requests are answered, not dropped, as the data plane's proxy port does: unparseable
// or ambiguously framed (two Content-Lengths, Content-Length with Transfer-Encoding, a coding
// other than chunked) 400, a request target longer than max_target_bytes 414, a header larger
// than max_header_bytes 431, a body larger than max_body_bytes 413. Each such answer is a JSON
// error ({"error":{"status":N,"code":"...","message":"..."}}) and closes the connection; the
// server then reads and drops what the client still sends for a moment, so that the client sees
// the answer rather than a reset.
//
// Threading: the handler runs on the server's thread and answers through `done`, at once or later
// from any thread (a long poll); `done` is called exactly once. For a long poll the handler may
// return a cancel function: it runs on the server's thread if the client goes away first (the
// handler should then answer at once; the answer is dropped). Lifetime: Stop (or the destructor)
// closes the listener, sends the answers already given, closes every connection and joins the
// thread; an answer given after that is dropped.
#ifndef VALET_COMMON_ADMIN_HTTP_SERVER_H_
#define VALET_COMMON_ADMIN_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/asio/ip/tcp.hpp"

namespace valet {

struct AdminRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // Path and query: "/v1/apps/x?dry_run=true".
  std::string body;
  // The Authorization field (empty if none), for handlers that check tokens
  // (common/token_auth.h). Never logged.
  std::string authorization{};
};

struct AdminResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // The Allow field; a 405 must say which methods the resource takes (RFC 9110 15.5.6). The
  // `{}` lets answers written as {status, body} leave it out without a -Wextra warning.
  std::string allow{};
  // The ETag field (a quoted version), when the answer has one.
  std::string etag{};
};

class AdminHttpServer {
 public:
  using Done = std::function<void(AdminResponse)>;
  using Cancel = std::function<void()>;
  // Returns a Cancel for a pending answer, or nullptr.
  using Handler = std::function<Cancel(const AdminRequest& request, Done done)>;

  struct Options {
    std::string server_name;          // The Server field of every answer.
    size_t max_body_bytes = 1 << 20;  // Larger: 413.
    // The request line and the fields together; larger: 431 (414 if the request line alone is
    // longer than max_target_bytes).
    size_t max_header_bytes = 16 << 10;
    size_t max_target_bytes = 8 << 10;  // Longer request target (path and query): 414.
  };

  // Binds `listen` (see listen_address.h) and starts serving.
  static absl::StatusOr<std::unique_ptr<AdminHttpServer>> Start(std::string_view listen,
                                                                Options options, Handler handler);
  ~AdminHttpServer();
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  const boost::asio::ip::tcp::endpoint& local_endpoint() const { return local_endpoint_; }

  void Stop();

  struct Impl;  // Shared with the connections; defined in the .cc.

 private:
  explicit AdminHttpServer(std::shared_ptr<Impl> impl);

  std::shared_ptr<Impl> impl_;
  boost::asio::ip::tcp::endpoint local_endpoint_;
};

}  // namespace valet

#endif  // VALET_COMMON_ADMIN_HTTP_SERVER_H_
