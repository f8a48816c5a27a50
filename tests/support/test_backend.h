// An in-process HTTP/1.1 server for tests: a real backend on 127.0.0.1 whose every answer a test
// programs, which records every request it receives.
//
// Threading: the server runs on its own io threads (Options::threads). The handler is called on
// one of them, once per request, and must not block for long (use BackendReply::delay to answer
// late: it is a timer, not a sleep). All public methods are thread-safe.
// Lifetime: Start binds and starts serving; the destructor (or Stop) closes the listener and every
// open connection and joins the threads. A stopped backend's port refuses connections; a new
// backend can be started on the same port to "revive" it (the listener sets SO_REUSEADDR).
//
// Default handler (EchoHandler): 200, Content-Type application/json, header
// X-Backend-Name: <Options::name>, and a JSON body describing the request:
//   {"backend": NAME, "port": PORT, "connection": ID, "method": "POST", "target": "/a?b=1",
//    "headers": [["Host","127.0.0.1:8000"], ...],   // wire order, duplicates kept
//    "body_length": 5, "body_fnv1a64": "a430d84680aabd0b",  // FNV-1a 64-bit, 16 hex digits
//    "body": "hello"}   // only when the body is at most 4096 bytes
// (the backend's own port, so a test behind a balancer sees which backend answered).
#ifndef VALET_TESTS_SUPPORT_TEST_BACKEND_H_
#define VALET_TESTS_SUPPORT_TEST_BACKEND_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/http_types.h"

namespace valet::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  int version = 11;             // 10 or 11.
  HeaderList fields;            // Raw, in wire order.
  std::string body;             // De-chunked.
  bool chunked = false;         // The request used Transfer-Encoding: chunked.
  uint64_t connection_id = 0;   // 1, 2, ... in accept order; equal ids = same TCP connection.
  int index_on_connection = 0;  // 0 for the first request on its connection.

  std::string Header(std::string_view name) const { return FirstField(fields, name); }
  size_t HeaderCount(std::string_view name) const { return CountFields(fields, name); }
};

// What the backend does with one request. Build with the static helpers or fill the fields.
struct BackendReply {
  enum class Action {
    kRespond,  // Send the response below.
    kReset,    // Abort the connection: SO_LINGER 0 + close, the peer sees a reset.
    kClose,    // Close the connection without answering (FIN).
    kRaw,      // Write `raw` verbatim, then close the connection (unless raw_keep_open).
  };
  Action action = Action::kRespond;
  std::chrono::milliseconds delay{0};  // Wait this long first (timer), for any action.
  // Wait until TestBackend::ReleaseHeld() before acting (after `delay`), for any action: lets a
  // test keep a request in flight for exactly as long as it needs, instead of guessing a delay.
  bool held = false;

  int status = 200;
  HeaderList headers;  // Sent as given. Content-Length is added unless chunked or given here.
  std::string body;
  // If non-empty, the body is sent with Transfer-Encoding: chunked, one chunk per piece (body is
  // ignored). Empty pieces are skipped.
  std::vector<std::string> chunks;
  bool close_after = false;  // Send Connection: close and close after this response.
  std::string raw;           // For kRaw.
  // For kRaw: after writing `raw`, keep the connection open and read the next request on it, so
  // that whether the peer reuses or closes the connection is the peer's own decision.
  bool raw_keep_open = false;

  static BackendReply Respond(int status, std::string body = "", HeaderList headers = {});
  static BackendReply Json(int status, std::string json_body);
  static BackendReply Chunked(int status, std::vector<std::string> pieces, HeaderList headers = {});
  static BackendReply Reset();
  static BackendReply Close();
  static BackendReply Raw(std::string bytes);
  // Raw with raw_keep_open set.
  static BackendReply RawKeepOpen(std::string bytes);
  // Returns a copy of *this with `delay` set: BackendReply::Json(200, "{}").After(100ms).
  BackendReply After(std::chrono::milliseconds d) const;
  // Returns a copy of *this with `held` set.
  BackendReply Held() const;
};

using Handler = std::function<BackendReply(const RecordedRequest&)>;

class TestBackend {
 public:
  struct Options {
    int port = 0;  // 0: any free port.
    int threads = 2;
    std::string name = "backend";
    Handler handler = nullptr;  // Empty: EchoReply.
  };

  // Binds 127.0.0.1:port and starts serving. Unavailable if the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<TestBackend>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<TestBackend>> Start() { return Start(Options{}); }

  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  int port() const { return port_; }
  std::string host_port() const;  // "127.0.0.1:PORT"
  const std::string& name() const;

  // Replaces the handler for requests that arrive from now on.
  void SetHandler(Handler handler);

  // Closes the listener and all open connections, joins the threads. Idempotent.
  void Stop();

  uint64_t accepted_connections() const;
  uint64_t open_connections() const;
  uint64_t request_count() const;
  std::vector<RecordedRequest> requests() const;  // Copy of the log, in arrival order.
  void ClearRequests();                           // Clears the log (not the counters).
  // Waits until request_count() >= n.
  bool WaitForRequests(uint64_t n, absl::Duration timeout) const;
  // Lets every reply that is waiting because it is `held` go ahead. Replies held later wait for
  // the next call.
  void ReleaseHeld();
  // Replies waiting for ReleaseHeld() right now.
  size_t held_count() const;

  // The default handler described at the top of this file, for a backend named `name` on `port`.
  static BackendReply EchoReply(const RecordedRequest& request, const std::string& name, int port);

  struct State;  // Implementation detail (shared with the connection sessions in the .cc).

 private:
  explicit TestBackend(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  int port_ = 0;
};

// A port on 127.0.0.1 that refuses connections right now: bound to 0, then closed. (Another process
// could take it later; good enough for "dead endpoint" tests.)
absl::StatusOr<int> PickClosedPort();

// FNV-1a 64-bit of `data` as 16 lowercase hex digits (what the echo handler reports).
std::string Fnv1a64Hex(std::string_view data);

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_TEST_BACKEND_H_
