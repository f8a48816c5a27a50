// A path pattern of a mock (and of a fan-out route): literal segments, named parameters
// and a trailing wildcard, matched against the path after the app segment.
//
//   "/"                 only "/" (and "")
//   "/users"            only "/users" (a trailing "/" in the request is ignored)
//   "/users/{id}"       "/users/42" with id = "42"; not "/users" nor "/users/42/x"
//   "/static/*"         "/static", "/static/a", "/static/a/b/c"
//
// Segments match byte for byte (paths arrive normalised: request_target.h). A parameter matches
// one non-empty segment. Immutable once compiled; safe to share between threads.
#ifndef VALET_COMMON_PATH_PATTERN_H_
#define VALET_COMMON_PATH_PATTERN_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace valet {

class PathPattern {
 public:
  // Parameter name -> the segment it matched, in pattern order.
  using Params = std::vector<std::pair<std::string, std::string>>;

  // InvalidArgument, saying why, for a pattern that does not start with "/", has an empty
  // segment, a malformed or repeated {name}, a "*" anywhere but as the whole last segment, or
  // characters that a normalised path never holds.
  static absl::StatusOr<PathPattern> Compile(std::string_view pattern);

  // True if `path` ("" or "/...") matches; fills `params` when given.
  bool Match(std::string_view path, Params* params = nullptr) const;

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
