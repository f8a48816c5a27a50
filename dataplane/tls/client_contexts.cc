#include "dataplane/tls/client_contexts.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ssl/error.hpp"
#include "dataplane/tls/tls_policy.h"

namespace valet {

namespace ssl = boost::asio::ssl;

namespace {

struct Cached {
  std::shared_ptr<ssl::context> context;
  int64_t mtime_ns = 0;  // Of the CA file when read.
  int64_t size = 0;
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

absl::StatusOr<std::shared_ptr<ssl::context>> Make(const std::string& ca_file) {
  absl::StatusOr<std::unique_ptr<ssl::context>> context =
      MakePolicyContext(ssl::context::tls_client);
  if (!context.ok()) return context.status();
  SSL_CTX* ctx = (*context)->native_handle();
  if (ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError(
          absl::StrCat("the system CA store: ", TakeOpenSslErrors("unreadable")));
    }
  } else if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backendCaFile ", ca_file, ": not a readable PEM CA bundle (", TakeOpenSslErrors(""), ")"));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Offer HTTP/1.1 only: a backend must not pick h2 for a connection we speak HTTP/1.1 on.
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, kHttp11, sizeof(kHttp11));
  // Resume sessions on new connections to the same backend.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
  return std::shared_ptr<ssl::context>(std::move(*context));
}

}  // namespace

absl::StatusOr<std::shared_ptr<ssl::context>> ClientContextFor(const std::string& ca_file) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache = new absl::flat_hash_map<std::string, Cached>();
  struct stat st = {};
  if (!ca_file.empty() && ::stat(ca_file.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("backendCaFile ", ca_file, ": not readable"));
  }
  absl::MutexLock lock(&mu);
  auto it = cache->find(ca_file);
  if (it != cache->end() && it->second.mtime_ns == MtimeNs(st) && it->second.size == st.st_size) {
    return it->second.context;
  }
  absl::StatusOr<std::shared_ptr<ssl::context>> made = Make(ca_file);
  if (!made.ok()) return made.status();
  (*cache)[ca_file] = Cached{*made, MtimeNs(st), static_cast<int64_t>(st.st_size)};
  return *made;
}

void UseBackendTls(MaybeTlsStream& stream, std::shared_ptr<ssl::context> context,
                   const std::string& host, bool host_is_ip) {
  ssl::context& raw = *context;
  stream.UseTls(raw, std::move(context));
  SSL* ssl_handle = stream.tls()->native_handle();
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  if (host_is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), bare.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, bare.c_str());
    SSL_set1_host(ssl_handle, bare.c_str());
  }
}

bool IsTlsError(const boost::system::error_code& ec) {
  return ec.category() == boost::asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

}  // namespace valet
