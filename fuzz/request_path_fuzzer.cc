// libFuzzer target: the data plane's request path, from the client's bytes to the head sent to the
// backend, without sockets.
// See fuzz/request_path_check.h for what it checks beyond "no crash".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/abort_on_error.h"
#include "fuzz/request_path_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  valet::fuzz::AbortOnError(
      valet::fuzz::RunRequestPath(std::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
