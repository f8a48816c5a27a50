// The data plane's request path as one function over a client's bytes, for the request path fuzzer
// (fuzz/request_path_fuzzer.cc) and the regression tests of what it found
// (tests/unit/fuzz/).
//
// The stages are those of a proxied request, without sockets: Beast's request parser with the
// proxy's limits (ProxyOptions), the framing and Host checks, target normalisation, routing
// against a small compiled snapshot, the head for the backend (hop-by-hop fields stripped,
// forwarded fields set, upstream target, framing set again), then the body through the same
// parser. Beyond "no crash, no leak, no undefined behaviour", it checks what a gateway promises:
// - normalisation is idempotent: the normalised path routes to the same app, rest and query;
// - no dot-segment reaches a backend;
// - the head sent to the backend parses back as one request with the same method, target and
//   body framing, one Host, and no framing a second reader could take differently.
#ifndef VALET_FUZZ_REQUEST_PATH_CHECK_H_
#define VALET_FUZZ_REQUEST_PATH_CHECK_H_

#include <string_view>

#include "absl/status/status.h"

namespace valet::fuzz {

// OK unless a promise above is broken (Internal, naming it). A request the proxy refuses is OK.
absl::Status RunRequestPath(std::string_view bytes);

}  // namespace valet::fuzz

#endif  // VALET_FUZZ_REQUEST_PATH_CHECK_H_
