// An in-process WebSocket server for tests: a real server on 127.0.0.1 that accepts the upgrade
// handshake on any path and sends every message back as it came (text or binary). Each
// connection has its own thread; the destructor closes the listener and every connection and
// joins them. It records the handshake requests it saw.
#ifndef VALET_TESTS_SUPPORT_WEBSOCKET_ECHO_H_
#define VALET_TESTS_SUPPORT_WEBSOCKET_ECHO_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/http_types.h"

namespace valet::testing {

class WebSocketEcho {
 public:
  static absl::StatusOr<std::unique_ptr<WebSocketEcho>> Start();
  ~WebSocketEcho();
  WebSocketEcho(const WebSocketEcho&) = delete;
  WebSocketEcho& operator=(const WebSocketEcho&) = delete;

  int port() const;
  // Targets and header fields of the handshakes received, in order.
  std::vector<std::string> handshake_targets() const;
  std::vector<HeaderList> handshake_fields() const;
  // Connections accepted and not yet closed.
  int open_connections() const;

  struct State;

 private:
  explicit WebSocketEcho(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_WEBSOCKET_ECHO_H_
