#include "dataplane/tls/server_certificates.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "dataplane/tls/dns_name_match.h"
#include "dataplane/tls/tls_policy.h"

namespace valet {

namespace ssl = boost::asio::ssl;

namespace {

std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                       static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  GENERAL_NAMES_free(sans);
  return names;
}

// Offers HTTP/1.1 over ALPN (a client that asks for h2 only gets no ALPN answer and may
// continue with HTTP/1.1 or give up).
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ServerCertificates>> ServerCertificates::Load(
    const std::vector<CertificateFiles>& files) {
  if (files.empty()) return absl::InvalidArgumentError("--tls-cert: no certificate given");
  std::shared_ptr<ServerCertificates> set(new ServerCertificates());
  for (const CertificateFiles& pair : files) {
    absl::StatusOr<std::unique_ptr<ssl::context>> context =
        MakePolicyContext(ssl::context::tls_server);
    if (!context.ok()) return context.status();
    SSL_CTX* ctx = (*context)->native_handle();
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, pair.cert.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-cert ", pair.cert,
                                                     ": not a readable PEM certificate chain (",
                                                     TakeOpenSslErrors("unreadable"), ")"));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, pair.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-key ", pair.key, ": not a readable PEM private key of ", pair.cert,
                       " (", TakeOpenSslErrors("unreadable"), ")"));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-key ", pair.key,
                                                     ": does not match the certificate in ",
                                                     pair.cert, " (", TakeOpenSslErrors(""), ")"));
    }
    SSL_CTX_set_alpn_select_cb(ctx, &SelectAlpn, nullptr);
    static const unsigned char kSessionContext[] = "valet-dataplane";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
    Entry entry;
    entry.names = DnsNames(SSL_CTX_get0_certificate(ctx));
    entry.context = std::move(*context);
    set->entries_.push_back(std::move(entry));
  }
  SSL_CTX* first = set->entries_.front().context->native_handle();
  SSL_CTX_set_tlsext_servername_callback(first, &ServerCertificates::OnServerName);
  SSL_CTX_set_tlsext_servername_arg(first, set.get());
  return std::shared_ptr<const ServerCertificates>(std::move(set));
}

size_t ServerCertificates::Select(std::string_view server_name) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    for (const std::string& name : entries_[i].names) {
      if (DnsNameMatches(name, server_name)) return i;
    }
  }
  return 0;
}

int ServerCertificates::OnServerName(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerCertificates*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;  // The default certificate.
  size_t i = self->Select(name);
  if (i != 0) SSL_set_SSL_CTX(ssl, self->entries_[i].context->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace valet
