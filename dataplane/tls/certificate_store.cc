#include "dataplane/tls/certificate_store.h"

namespace valet {

absl::StatusOr<std::shared_ptr<CertificateStore>> CertificateStore::Load(
    std::vector<CertificateFiles> files) {
  absl::StatusOr<std::shared_ptr<const ServerCertificates>> set = ServerCertificates::Load(files);
  if (!set.ok()) return set.status();
  return std::shared_ptr<CertificateStore>(new CertificateStore(std::move(files), *set));
}

std::shared_ptr<const ServerCertificates> CertificateStore::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status CertificateStore::Reload() {
  absl::StatusOr<std::shared_ptr<const ServerCertificates>> set = ServerCertificates::Load(files_);
  if (!set.ok()) return set.status();
  std::shared_ptr<const ServerCertificates> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(current_);
    current_ = std::move(*set);
  }
  return absl::OkStatus();  // `old` dies here, outside the lock, unless connections hold it.
}

}  // namespace valet
