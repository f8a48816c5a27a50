// Where the e2e tests find Valet's binaries.
//
// The test target gets the paths as compile definitions (tests/support/CMakeLists.txt provides
// valet_e2e_binaries(TARGET), which adds VALET_DATAPLANE_BIN / VALET_CONTROLPLANE_BIN /
// VALETCTL_BIN / VALET_ECHO_BACKEND_BIN for the targets that exist). An environment variable of the
// same name overrides the compiled path, e.g. to run the tests against an installed build.
//
// The functions are `static` on purpose: each test file sees its own compile definitions.
#ifndef VALET_TESTS_SUPPORT_BINARIES_H_
#define VALET_TESTS_SUPPORT_BINARIES_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/support/process.h"

#ifndef VALET_DATAPLANE_BIN
#define VALET_DATAPLANE_BIN ""
#endif
#ifndef VALET_CONTROLPLANE_BIN
#define VALET_CONTROLPLANE_BIN ""
#endif
#ifndef VALETCTL_BIN
#define VALETCTL_BIN ""
#endif
#ifndef VALET_ECHO_BACKEND_BIN
#define VALET_ECHO_BACKEND_BIN ""
#endif

namespace valet::testing {

static inline absl::StatusOr<std::string> DataplaneBinary() {
  return FindBinary("VALET_DATAPLANE_BIN", VALET_DATAPLANE_BIN);
}
static inline absl::StatusOr<std::string> ControlplaneBinary() {
  return FindBinary("VALET_CONTROLPLANE_BIN", VALET_CONTROLPLANE_BIN);
}
static inline absl::StatusOr<std::string> ValetctlBinary() {
  return FindBinary("VALETCTL_BIN", VALETCTL_BIN);
}
static inline absl::StatusOr<std::string> EchoBackendBinary() {
  return FindBinary("VALET_ECHO_BACKEND_BIN", VALET_ECHO_BACKEND_BIN);
}

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_BINARIES_H_
