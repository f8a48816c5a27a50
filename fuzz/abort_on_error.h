// How a libFuzzer target reports a broken promise: the reason on stderr, then abort(), which
// libFuzzer records as a crash with the input that caused it.
#ifndef VALET_FUZZ_ABORT_ON_ERROR_H_
#define VALET_FUZZ_ABORT_ON_ERROR_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"

namespace valet::fuzz {

inline void AbortOnError(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "valet fuzz check failed: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace valet::fuzz

#endif  // VALET_FUZZ_ABORT_ON_ERROR_H_
