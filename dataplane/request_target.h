// Splits a request target into the app it names and the path and query that go to the backend.
//
// The path is normalised before routing (RFC 3986 section 5.2.4, plus percent-encoded dots and
// merged slashes) so that "/app/../other" routes to "other" and no dot-segment ever reaches a
// backend: a request can never leave the app it names.
#ifndef VALET_DATAPLANE_REQUEST_TARGET_H_
#define VALET_DATAPLANE_REQUEST_TARGET_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace valet {

struct RequestTarget {
  std::string app;    // First path segment ("" for "/").
  std::string rest;   // Normalised path after the app segment: "" or "/..."; keeps a trailing "/".
  std::string query;  // Without the "?"; empty when absent.
};

// Accepts origin-form ("/a/b?q") and absolute-form ("http://host/a/b?q") targets.
// InvalidArgument for anything else (asterisk-form, authority-form, control characters).
absl::StatusOr<RequestTarget> ParseRequestTarget(std::string_view target);

// The target sent to a backend: `prefix` (an endpoint's path, "" or "/...") + rest + "?" query.
// Never empty: "/" when prefix and rest are both empty.
std::string UpstreamTarget(std::string_view prefix, const RequestTarget& target);

}  // namespace valet

#endif  // VALET_DATAPLANE_REQUEST_TARGET_H_
