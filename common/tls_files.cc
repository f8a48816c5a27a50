#include "common/tls_files.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/string_view.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace valet {
namespace {

// Reads a PEM file; the error names the flag and the path.
absl::StatusOr<std::string> ReadPem(std::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(flag), " ", path, ": cannot read (", text.status().message(), ")"));
  }
  if (text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(AsAbsl(flag), " ", path, ": not a PEM file"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeTlsServerCredentials(
    const TlsServerFiles& files, absl::Duration refresh) {
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
  }
  for (auto [flag, path] : {std::pair{"--tls-cert", files.cert}, std::pair{"--tls-key", files.key},
                            std::pair{"--tls-client-ca", files.client_ca}}) {
    if (path.empty()) continue;
    absl::StatusOr<std::string> pem = ReadPem(flag, path);
    if (!pem.ok()) return pem.status();
  }
  const unsigned int refresh_s =
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(refresh)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key, files.cert, files.client_ca, refresh_s);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!files.client_ca.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> ReadChannelTlsFiles(
    const TlsClientFiles& files) {
  const std::string ca_flag = files.flag_prefix + "ca";
  const std::string cert_flag = files.flag_prefix + "cert";
  const std::string key_flag = files.flag_prefix + "key";
  if (files.ca.empty()) {
    if (!files.cert.empty() || !files.key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(cert_flag, " and ", key_flag, " (a client certificate) need ", ca_flag));
    }
    return std::nullopt;
  }
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a client certificate needs both ", cert_flag, " and ", key_flag));
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPem(ca_flag, files.ca);
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = std::move(*ca);
  if (!files.cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(cert_flag, files.cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(key_flag, files.key);
    if (!key.ok()) return key.status();
    options.pem_cert_chain = std::move(*cert);
    options.pem_private_key = std::move(*key);
  }
  return options;
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const std::optional<grpc::SslCredentialsOptions>& tls) {
  return tls.has_value() ? grpc::SslCredentials(*tls) : grpc::InsecureChannelCredentials();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsClientFiles& files) {
  absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> tls = ReadChannelTlsFiles(files);
  if (!tls.ok()) return tls.status();
  return ChannelCredentials(*tls);
}

}  // namespace valet
