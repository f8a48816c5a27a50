// The path patterns of fan-out routes and of mocks: literal segments, whole-segment named
// parameters and a trailing wildcard, matched against the request's path after the app segment.
//
//   "/"                 the app's root: "" and "/"
//   "/users"            "/users" and "/users/" (a trailing "/" in the request or the pattern is
//                       the same path)
//   "/users/{id}"       "/users/42" with id = "42"; not "/users" nor "/users/42/x"
//   "/static/*"         "/static", "/static/a", "/static/a/b/c"
//
// Segments match byte for byte (paths arrive normalised: request_target.h, still
// percent-encoded). A parameter matches one non-empty segment. Validation
// (common/app_config_validation.cc) refuses what does not compile; the data plane compiles
// patterns into its route and mock tables. Immutable once compiled; safe to share between
// threads; Match allocates nothing.
#ifndef VALET_COMMON_PATH_PATTERN_H_
#define VALET_COMMON_PATH_PATTERN_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"

namespace valet {

inline constexpr size_t kMaxPathPatternBytes = 2048;

// Parameters of a match: (name, value as it appears in the path), views into the pattern and the
// path.
using PathParams = absl::InlinedVector<std::pair<std::string_view, std::string_view>, 4>;

// A parameter name: a letter or "_", then letters, digits or "_"; at most 64 bytes (also the
// names of path templates, common/route_syntax.h).
bool IsParamName(std::string_view name);

class PathPattern {
 public:
  // InvalidArgument "bad path pattern: WHY" (no file or JSON path: the caller adds them) for a
  // pattern that does not start with "/", has an empty segment, a malformed, reserved ("query")
  // or repeated {name}, a "*" anywhere but as the whole last segment, or characters that a
  // normalised path never holds.
  static absl::StatusOr<PathPattern> Compile(std::string_view pattern);

  // True if `path` ("" or "/...") matches; fills `params` when given (cleared first).
  bool Match(std::string_view path, PathParams* params = nullptr) const;

  // True if the pattern declares the parameter {name}.
  bool HasParam(std::string_view name) const;

  const std::string& text() const { return text_; }

 private:
  struct Segment {
    std::string literal;  // Empty for a parameter.
    std::string param;    // The parameter's name, or empty.
  };

  std::string text_;
  std::vector<Segment> segments_;
  bool wildcard_ = false;  // A trailing "*": any number of further segments.
};

}  // namespace valet

#endif  // VALET_COMMON_PATH_PATTERN_H_
