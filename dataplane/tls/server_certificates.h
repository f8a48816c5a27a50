// The certificates of the HTTPS listener: one TLS server context per certificate and key pair,
// chosen per handshake by the name the client asks for (SNI) among each certificate's DNS
// subject alternative names (wildcards too). The first pair is the default: it serves clients
// that send no name or a name no certificate has.
//
// Immutable once loaded; shared by every connection whose handshake started with it (a session
// holds the shared_ptr for its life, so a reload never pulls a context from under it).
#ifndef VALET_DATAPLANE_TLS_SERVER_CERTIFICATES_H_
#define VALET_DATAPLANE_TLS_SERVER_CERTIFICATES_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"

namespace valet {

struct CertificateFiles {
  std::string cert;  // PEM chain, the server's certificate first (--tls-cert).
  std::string key;   // PEM private key (--tls-key).
};

class ServerCertificates {
 public:
  // Reads every pair. Errors name the flag and the path (never the contents).
  static absl::StatusOr<std::shared_ptr<const ServerCertificates>> Load(
      const std::vector<CertificateFiles>& files);

  ServerCertificates(const ServerCertificates&) = delete;
  ServerCertificates& operator=(const ServerCertificates&) = delete;

  // The context a new connection starts its handshake with (the default certificate's, with
  // the SNI callback that switches to another).
  boost::asio::ssl::context& handshake_context() const { return *entries_.front().context; }

  // The certificate that serves `server_name`: the first whose DNS names match, else 0.
  size_t Select(std::string_view server_name) const;
  size_t size() const { return entries_.size(); }
  const std::vector<std::string>& names(size_t i) const { return entries_[i].names; }

 private:
  struct Entry {
    std::unique_ptr<boost::asio::ssl::context> context;
    std::vector<std::string> names;  // DNS subject alternative names.
  };
  ServerCertificates() = default;
  static int OnServerName(SSL* ssl, int* alert, void* arg);

  std::vector<Entry> entries_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_SERVER_CERTIFICATES_H_
