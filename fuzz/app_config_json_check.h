// The app config JSON path as one function over a file's bytes, for the app config fuzzer
// (fuzz/app_config_json_fuzzer.cc) and the regression tests of what it found (tests/unit/fuzz/).
//
// Parses the bytes as a conf file (ParseAppConfigJson), validates what parses (ValidateAppConfig,
// ValidateAppSet), renders it back (AppConfigToJson) and, when it is valid, compiles it into a
// snapshot beside another app. Beyond "no crash, no leak, no undefined behaviour", it checks:
// - the rendered JSON parses back to the same config (what the control plane writes, it reads);
// - ValidateAppConfig and ValidateAppSet agree on one app;
// - a valid app compiles, and routes by its name;
// - no error quotes the auth key.
#ifndef VALET_FUZZ_APP_CONFIG_JSON_CHECK_H_
#define VALET_FUZZ_APP_CONFIG_JSON_CHECK_H_

#include <string_view>

#include "absl/status/status.h"

namespace valet::fuzz {

// OK unless a promise above is broken (Internal, naming it). A refused file is OK.
absl::Status RunAppConfigJson(std::string_view bytes);

}  // namespace valet::fuzz

#endif  // VALET_FUZZ_APP_CONFIG_JSON_CHECK_H_
