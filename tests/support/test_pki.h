// A test PKI made at test time with the openssl command line (never committed keys): a CA and
// the certificates it signs, in a temporary directory.
#ifndef VALET_TESTS_SUPPORT_TEST_PKI_H_
#define VALET_TESTS_SUPPORT_TEST_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/process.h"

namespace valet::testing {

inline constexpr char kOpenssl[] = "/usr/bin/openssl";

// Runs the openssl command line; the error carries its output.
inline absl::Status Openssl(std::vector<std::string> args) {
  auto p = Process::Start(kOpenssl, std::move(args));
  if (!p.ok()) return p.status();
  auto code = (*p)->Wait(absl::Seconds(30));
  if (!code.ok()) return code.status();
  if (*code != 0) return absl::InternalError(absl::StrCat("openssl failed:\n", (*p)->Log()));
  return absl::OkStatus();
}

// A CA and certificates it signs, in `dir`.
class TestPki {
 public:
  explicit TestPki(const TempDir& dir, std::string ca_name = "ca") : dir_(dir), ca_(ca_name) {}

  absl::Status MakeCa() {
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", Key(ca_), "-out", Pem(ca_), "-days", "2", "-subj",
                    "/CN=Valet test " + ca_});
  }

  // Issues NAME.pem / NAME.key with common name `cn` and the extensions `ext` (openssl -extfile
  // lines).
  absl::Status Issue(const std::string& name, const std::string& cn, const std::string& ext) {
    std::string ext_file = dir_.WriteFile(name + ".ext", ext);
    absl::Status s =
        Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", Key(name), "-out", dir_.Join(name + ".csr"), "-subj", "/CN=" + cn});
    if (!s.ok()) return s;
    return Openssl({"x509", "-req", "-in", dir_.Join(name + ".csr"), "-CA", Pem(ca_), "-CAkey",
                    Key(ca_), "-set_serial", absl::StrCat(++serial_), "-days", "2", "-out",
                    Pem(name), "-extfile", ext_file});
  }

  absl::Status IssueServer(const std::string& name, const std::string& cn) {
    return Issue(name, cn,
                 "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  }
  absl::Status IssueClient(const std::string& name) {
    return Issue(name, name, "extendedKeyUsage=clientAuth\n");
  }

  std::string Pem(const std::string& name) const { return dir_.Join(name + ".pem"); }
  std::string Key(const std::string& name) const { return dir_.Join(name + ".key"); }
  std::string ca_pem() const { return Pem(ca_); }

 private:
  const TempDir& dir_;
  std::string ca_;
  int serial_ = 100;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_TEST_PKI_H_
