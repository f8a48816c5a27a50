// The snapshot compiler as one function over the bytes of a ConfigSnapshot message (what the
// attach stream carries), for the snapshot fuzzer (fuzz/snapshot_compile_fuzzer.cc) and the
// regression tests of what it found (tests/unit/fuzz/).
//
// Parses the bytes, compiles them (Snapshot::Compile: validation, then the routing table), and
// writes and reads them back as a snapshot cache. Beyond "no crash, no leak, no undefined
// behaviour", it checks:
// - a snapshot compiles exactly when ValidateAppSet accepts its apps;
// - a compiled snapshot routes every app by its name, to its endpoints, and knows each endpoint's
//   key;
// - the cache reads back what it wrote.
#ifndef VALET_FUZZ_SNAPSHOT_COMPILE_CHECK_H_
#define VALET_FUZZ_SNAPSHOT_COMPILE_CHECK_H_

#include <string_view>

#include "absl/status/status.h"

namespace valet::fuzz {

// OK unless a promise above is broken (Internal, naming it). A refused snapshot is OK.
absl::Status RunSnapshotCompile(std::string_view bytes);

}  // namespace valet::fuzz

#endif  // VALET_FUZZ_SNAPSHOT_COMPILE_CHECK_H_
