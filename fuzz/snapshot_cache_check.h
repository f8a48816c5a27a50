// The snapshot cache reader as one function over the bytes of a cache file (DIR/snapshot.binpb),
// for the cache fuzzer (fuzz/snapshot_cache_fuzzer.cc) and the regression tests of what it found
// (tests/unit/fuzz/).
//
// Decodes the bytes as they are, then once more with the header's length and checksum made to
// match (a mutated file almost never keeps its CRC-32, and the snapshot behind it would go
// unread), and compiles what decodes, as a data plane does at start. Beyond "no crash, no leak, no
// undefined behaviour", it checks:
// - what decodes has a version (version 0 is never a snapshot);
// - what decodes is written back and read again unchanged.
#ifndef VALET_FUZZ_SNAPSHOT_CACHE_CHECK_H_
#define VALET_FUZZ_SNAPSHOT_CACHE_CHECK_H_

#include <string_view>

#include "absl/status/status.h"

namespace valet::fuzz {

// OK unless a promise above is broken (Internal, naming it). A refused file is OK.
absl::Status RunSnapshotCache(std::string_view bytes);

}  // namespace valet::fuzz

#endif  // VALET_FUZZ_SNAPSHOT_CACHE_CHECK_H_
