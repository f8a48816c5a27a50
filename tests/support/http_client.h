// A small synchronous HTTP/1.1 client for tests (Boost.Beast), bound to one HOST:PORT and keeping
// one keep-alive connection, plus SendRaw for malformed-request tests.
//
// Threading: an HttpClient is used by one thread at a time; create one per thread for concurrency.
// Every operation (connect, write, read) has the client's timeout; a timed-out connection is
// closed. Lifetime: the connection closes with the client.
#ifndef VALET_TESTS_SUPPORT_HTTP_CLIENT_H_
#define VALET_TESTS_SUPPORT_HTTP_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/http_types.h"

namespace valet::testing {

struct HttpResponse {
  int status = 0;
  std::string reason;
  HeaderMap headers;        // Case-insensitive; duplicates joined with ", ".
  HeaderList fields;        // Raw fields in wire order (duplicates visible).
  std::string body;         // De-chunked.
  bool chunked = false;     // The response used Transfer-Encoding: chunked.
  bool keep_alive = false;  // The connection stays open after this response.
  // True if the request went out on a connection a previous Send opened; false on a new one.
  bool reused_connection = false;

  // First value of `name` or "" (case-insensitive).
  std::string Header(std::string_view name) const { return FirstField(fields, name); }
  size_t HeaderCount(std::string_view name) const { return CountFields(fields, name); }
};

class HttpClient {
 public:
  // Does not connect yet; the first Send does.
  HttpClient(std::string host, int port, absl::Duration timeout = absl::Seconds(5));
  // Convenience: "HOST:PORT" as read from a port file. Aborts on a malformed address.
  explicit HttpClient(const std::string& host_port, absl::Duration timeout = absl::Seconds(5));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole response.
  // - A Host header (HOST:PORT) is added unless `headers` has one.
  // - If `chunks` is set, the body is sent with Transfer-Encoding: chunked, one chunk per
  //   non-empty piece, and `body` is ignored. Otherwise Content-Length is set from `body` unless
  //   `headers` already has Content-Length or Transfer-Encoding (then nothing is added: you get
  //   exactly what you asked for); GET/HEAD/DELETE/OPTIONS with an empty body get no length.
  // - If the keep-alive connection turns out to have been closed by the peer (the write fails or
  //   the read sees EOF/reset before any byte), the request is retried once on a new connection
  //   (reused_connection is then false). 1xx interim responses are skipped.
  // - The connection is closed after a response without keep-alive.
  // Errors: Unavailable (connect/IO failure), DeadlineExceeded (timeout), Internal (bad response).
  absl::StatusOr<HttpResponse> Send(std::string_view method, std::string_view target,
                                    const HeaderList& headers = {}, std::string_view body = "",
                                    std::optional<std::vector<std::string>> chunks = std::nullopt);
  absl::StatusOr<HttpResponse> Get(std::string_view target, const HeaderList& headers = {}) {
    return Send("GET", target, headers);
  }

  // Closes the keep-alive connection (the next Send opens a new one).
  void Close();
  bool connected() const;
  // Connections opened so far (including reconnects).
  int connections_opened() const { return connections_opened_; }
  void set_timeout(absl::Duration timeout) { timeout_ = timeout; }

 private:
  struct Impl;
  std::string host_;
  int port_;
  absl::Duration timeout_;
  int connections_opened_ = 0;
  std::unique_ptr<Impl> impl_;
};

// Connects to HOST:PORT, writes `bytes`, half-closes nothing, and reads until the peer closes the
// connection or `timeout` passes; returns everything read (possibly empty). If `peer_closed` is
// given it tells whether the peer closed (true) or the timeout ended the read (false).
// Unavailable if the connection cannot be made or the write fails.
absl::StatusOr<std::string> SendRaw(const std::string& host, int port, std::string_view bytes,
                                    absl::Duration timeout, bool* peer_closed = nullptr);

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_HTTP_CLIENT_H_
