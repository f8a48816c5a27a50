// An in-process HTTPS backend for tests: TLS on 127.0.0.1 with a certificate the test made,
// keep-alive HTTP/1.1, answering every request 200 with a JSON echo:
//   {"backend": NAME, "connection": N, "target": "/x", "forwarded_proto": "...", "host": "..."}
// It counts handshakes that completed (connections) and requests.
//
// Threading: serves on its own thread; public methods are thread-safe. Lifetime: the destructor
// closes the listener and every connection and joins the thread.
#ifndef VALET_TESTS_SUPPORT_TLS_BACKEND_H_
#define VALET_TESTS_SUPPORT_TLS_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace valet::testing {

class TlsBackend {
 public:
  static absl::StatusOr<std::unique_ptr<TlsBackend>> Start(const std::string& name,
                                                           const std::string& cert_file,
                                                           const std::string& key_file);
  ~TlsBackend();
  TlsBackend(const TlsBackend&) = delete;
  TlsBackend& operator=(const TlsBackend&) = delete;

  int port() const;
  // Handshakes completed, requests answered.
  int connections() const;
  int requests() const;

  struct Impl;

 private:
  explicit TlsBackend(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_TLS_BACKEND_H_
