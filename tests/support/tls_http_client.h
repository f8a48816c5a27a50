// A small HTTPS client for tests (Boost.Asio SSL + Beast): one keep-alive TLS connection to
// HOST:PORT, with the SNI name a test chooses, verifying the server against a CA file and that
// name. Every operation has the client's timeout; a timed-out connection is closed.
//
// Threading: one thread at a time. Lifetime: the connection closes with the client.
#ifndef VALET_TESTS_SUPPORT_TLS_HTTP_CLIENT_H_
#define VALET_TESTS_SUPPORT_TLS_HTTP_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/http_client.h"

namespace valet::testing {

class TlsHttpClient {
 public:
  // `server_name`: sent as SNI and checked against the certificate (unless `ca_file` is empty:
  // then nothing is verified).
  TlsHttpClient(std::string host_port, std::string server_name, std::string ca_file,
                absl::Duration timeout = absl::Seconds(5));
  ~TlsHttpClient();
  TlsHttpClient(const TlsHttpClient&) = delete;
  TlsHttpClient& operator=(const TlsHttpClient&) = delete;

  // GET on the open connection (a new one when there is none, or the server closed it).
  absl::StatusOr<HttpResponse> Get(const std::string& target);

  // The common name of the certificate the server showed on the open connection ("" if none).
  std::string PeerCommonName() const;
  // Connections this client opened (handshakes done).
  int connections() const { return connections_; }
  void Close();

 private:
  struct Impl;
  absl::Status Connect();
  std::unique_ptr<Impl> impl_;
  std::string host_port_;
  std::string server_name_;
  std::string ca_file_;
  absl::Duration timeout_;
  int connections_ = 0;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_TLS_HTTP_CLIENT_H_
