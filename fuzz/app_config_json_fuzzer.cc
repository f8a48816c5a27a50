// libFuzzer target: the app config JSON parser, validation, and the way back to JSON.
// See fuzz/app_config_json_check.h for what it checks beyond "no crash".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/abort_on_error.h"
#include "fuzz/app_config_json_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  valet::fuzz::AbortOnError(
      valet::fuzz::RunAppConfigJson(std::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
