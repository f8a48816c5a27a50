// The syntax of fan-out routes (docs/fanout.md) beyond their path pattern (common/path_pattern.h):
// a backend's path template and URL, parsed into parts. Validation
// (common/app_config_validation.cc) refuses what does not parse; the data plane (dataplane/fanout/)
// compiles the parts into its templates.
//
//   template  "/users/{id}?verbose={query.verbose}&{query}"
//             {NAME}: a parameter of the route's pattern; {query.NAME}: one query parameter of the
//             request (its value as sent); {query}: the request's whole query string.
#ifndef VALET_COMMON_ROUTE_SYNTAX_H_
#define VALET_COMMON_ROUTE_SYNTAX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/path_pattern.h"

namespace valet {

inline constexpr size_t kMaxRoutePathBytes = 2048;
inline constexpr size_t kMaxRoutesPerApp = 256;
inline constexpr size_t kMaxBackendsPerRoute = 16;

struct TemplatePiece {
  enum class Kind { kLiteral, kParam, kQueryParam, kWholeQuery };
  Kind kind = Kind::kLiteral;
  std::string text;       // The literal, or the parameter's name.
  bool in_query = false;  // After the template's "?".
};

// Parses a backend's path template. InvalidArgument for: no leading "/", characters a target
// cannot hold, an unclosed or empty "{...}", a bad name. Names are not checked against a pattern
// here (UnknownTemplateParams does).
absl::StatusOr<std::vector<TemplatePiece>> ParsePathTemplate(std::string_view path_template);

// The {NAME} parameters of `pieces` that `pattern` does not declare, in order.
std::vector<std::string> UnknownTemplateParams(const std::vector<TemplatePiece>& pieces,
                                               const PathPattern& pattern);

// A backend given by URL: "http://HOST[:PORT][/PREFIX]" (only http for now).
struct BackendUrl {
  std::string host;  // As written; IPv6 in brackets.
  uint16_t port = 80;
  std::string prefix;  // "" or "/...": put before the leg's path.
};
absl::StatusOr<BackendUrl> ParseBackendUrl(std::string_view url);

// The name a backend goes by in errors, headers and metrics: `name`, else `app`, else the URL's
// HOST:PORT (or the URL as written when it does not parse).
std::string BackendNameOf(std::string_view name, std::string_view app, std::string_view url);

}  // namespace valet

#endif  // VALET_COMMON_ROUTE_SYNTAX_H_
