// gRPC credentials from PEM files, for the control plane's listener and for the clients that dial
// it (the data plane's attach stream, valetctl).
//
// Server: the certificate and key (and, for mTLS, the CA that client certificates must chain to)
// are watched by gRPC's FileWatcherCertificateProvider: they are re-read every `refresh` and each
// new handshake uses the newest pair, so a rotation needs no restart and drops no connection
// (attached data planes stay attached). Replace the files atomically (write, then rename). With a
// client CA a client certificate is asked for and verified when given, but not required: valetctl
// may still come with a token only.
// Client: the CA that the server's certificate must chain to (its name must match the host dialed,
// 127.0.0.1 or localhost in tests) and an optional client certificate and key, read when the
// credentials are made (the data plane makes them for each attach attempt).
//
// Every file is read once at creation so that a wrong path is an error at start, not a failed
// handshake later. Errors name the flag and the path, never the contents.
#ifndef VALET_COMMON_TLS_FILES_H_
#define VALET_COMMON_TLS_FILES_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace valet {

struct TlsServerFiles {
  std::string cert;       // --tls-cert: PEM chain, the server's certificate first.
  std::string key;        // --tls-key: PEM private key.
  std::string client_ca;  // --tls-client-ca: PEM bundle; empty: no client certificates.
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeTlsServerCredentials(
    const TlsServerFiles& files, absl::Duration refresh);

struct TlsClientFiles {
  std::string ca;    // --tls-ca: PEM bundle; empty: no TLS (cert and key must be empty too).
  std::string cert;  // --tls-cert: client certificate (mTLS); with key.
  std::string key;   // --tls-key.
  // How the flags are spelled in errors: "--tls-" (valetctl), "--control-tls-" (data plane).
  std::string flag_prefix = "--tls-";
};

// Reads the client's PEM files into gRPC's options; nullopt when `files.ca` is empty (no TLS).
// Makes no gRPC call, so it may run before gRPC starts its threads (valetctl's watch blocks
// SIGINT in every thread it starts, gRPC's included).
absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> ReadChannelTlsFiles(
    const TlsClientFiles& files);

// Credentials from ReadChannelTlsFiles: TLS, or insecure when `tls` is nullopt.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const std::optional<grpc::SslCredentialsOptions>& tls);

// The two together.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsClientFiles& files);

}  // namespace valet

#endif  // VALET_COMMON_TLS_FILES_H_
