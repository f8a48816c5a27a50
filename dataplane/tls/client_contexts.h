// TLS client contexts for backends of scheme https, one per CA source: the system's trust store
// (`ca_file` empty) or an app's CA file (backendCaFile). Contexts are shared by every snapshot
// that asks for the same CA file, so pooled connections and resumed sessions survive config
// swaps; a CA file is re-read when a snapshot that names it is compiled after the file changed.
// Thread-safe.
#ifndef VALET_DATAPLANE_TLS_CLIENT_CONTEXTS_H_
#define VALET_DATAPLANE_TLS_CLIENT_CONTEXTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"
#include "boost/system/error_code.hpp"
#include "dataplane/tls/maybe_tls_stream.h"

namespace valet {

// Verification of the peer is on (certificate chain); the host name is checked per connection
// (SSL_set1_host, see UseBackendTls).
absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> ClientContextFor(
    const std::string& ca_file);

// Switches a new backend connection to TLS with `context`, asking for `host` (SNI, unless it is
// an IP address) and checking the certificate names it (a DNS name, or an IP address entry).
void UseBackendTls(MaybeTlsStream& stream, std::shared_ptr<boost::asio::ssl::context> context,
                   const std::string& host, bool host_is_ip);

// An error of the TLS layer (handshake, certificate, record), not of the TCP connection.
bool IsTlsError(const boost::system::error_code& ec);

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_CLIENT_CONTEXTS_H_
