#include "common/ca_file_check.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace valet {

namespace {
// A CA bundle larger than this is not a CA bundle (the system's is about 200 KB).
constexpr long kMaxCaFileBytes = 4 * 1024 * 1024;
}  // namespace

absl::Status CheckCaFile(const std::string& path) {
  // A device or a pipe (/dev/zero) could be read forever: regular files of a bounded size only.
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  if (st.st_size > kMaxCaFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxCaFileBytes, " bytes"));
  }
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot be read"));
  }
  int certificates = 0;
  bool bad = false;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert == nullptr) {
      // The end of the file, or a block that does not parse.
      unsigned long err = ERR_peek_last_error();
      bad = !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
      break;
    }
    X509_free(cert);
    ++certificates;
  }
  ERR_clear_error();
  BIO_free(bio);
  if (bad) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a PEM CA bundle (a block does not parse)"));
  }
  if (certificates == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds no PEM certificate"));
  }
  return absl::OkStatus();
}

}  // namespace valet
