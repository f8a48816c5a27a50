// The HTTPS listener's certificates as they are now: loaded at start, re-read on SIGHUP. A new
// connection takes the current set for its life; a reload replaces the set for the connections
// that come after it and leaves live ones on theirs. A reload that fails keeps the set in use.
// Thread-safe.
#ifndef VALET_DATAPLANE_TLS_CERTIFICATE_STORE_H_
#define VALET_DATAPLANE_TLS_CERTIFICATE_STORE_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/tls/server_certificates.h"

namespace valet {

class CertificateStore {
 public:
  static absl::StatusOr<std::shared_ptr<CertificateStore>> Load(
      std::vector<CertificateFiles> files);

  std::shared_ptr<const ServerCertificates> current() const;
  // Re-reads every file; on an error the set in use stays and the error says which file.
  absl::Status Reload();
  const std::vector<CertificateFiles>& files() const { return files_; }

 private:
  CertificateStore(std::vector<CertificateFiles> files,
                   std::shared_ptr<const ServerCertificates> current)
      : files_(std::move(files)), current_(std::move(current)) {}

  const std::vector<CertificateFiles> files_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const ServerCertificates> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_CERTIFICATE_STORE_H_
