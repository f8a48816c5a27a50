// Run-time settings of the data plane's proxy, set from flags in main.cc.
#ifndef VALET_DATAPLANE_OPTIONS_H_
#define VALET_DATAPLANE_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/tls/server_certificates.h"

namespace valet {

struct ProxyOptions {
  std::string listen = "0.0.0.0:8000";
  std::string admin_listen = "127.0.0.1:8001";
  // HTTPS listener: empty, none. Certificates by SNI, the first the default (dataplane/tls/).
  std::string tls_listen;
  std::vector<CertificateFiles> tls_certificates;
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  // With a tokens file (common/tokens_file.h), /metrics needs a read (or admin) token;
  // /healthz and /readyz stay open for probes.
  std::string admin_tokens_file;
  int workers = 1;
  uint32_t max_apps = 0;  // A snapshot with more apps is refused (NACK). 0: no limit.

  // Client side.
  uint32_t max_header_bytes = 16 * 1024;          // Larger: 431.
  uint64_t max_body_bytes = 64ull * 1024 * 1024;  // Larger: 413.
  // Fan-out routes: the request body is read whole (larger: 413) and each backend's answer too
  // (larger: that leg fails).
  uint64_t max_fanout_body_bytes = 1024 * 1024;
  uint64_t max_fanout_answer_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds client_timeout{60'000};  // Every read and write, and keep-alive idle.
  // A tunnel (after a protocol switch, WebSocket) in which no byte moved this long is closed.
  std::chrono::milliseconds tunnel_idle_timeout{300'000};

  // Backend side.
  std::chrono::milliseconds upstream_io_timeout{60'000};    // Every body read and write.
  std::chrono::milliseconds upstream_idle_timeout{30'000};  // Pooled connections older are closed.
  // Per endpoint, for the whole data plane (each worker takes an equal share): open connections
  // (connecting, in use and idle), and requests waiting for one, for at most queue_timeout.
  uint32_t max_connections_per_endpoint = 1024;
  uint32_t max_pending_per_endpoint = 4096;
  std::chrono::milliseconds queue_timeout{5'000};
  uint32_t eject_after_failures = 5;                // Consecutive failures that eject.
  std::chrono::milliseconds eject_duration{5'000};  // How long an ejected endpoint is skipped.
  uint32_t max_upstream_response_header_bytes = 64 * 1024;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_OPTIONS_H_
