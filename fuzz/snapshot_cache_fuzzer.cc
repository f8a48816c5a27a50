// libFuzzer target: the snapshot cache reader, from the bytes of a cache file.
// See fuzz/snapshot_cache_check.h for what it checks beyond "no crash".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/abort_on_error.h"
#include "fuzz/snapshot_cache_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  valet::fuzz::AbortOnError(
      valet::fuzz::RunSnapshotCache(std::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
