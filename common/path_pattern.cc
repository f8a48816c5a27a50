#include "common/path_pattern.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/error_text.h"
#include "common/string_view.h"

namespace valet {
namespace {

bool IsNameChar(char c, bool first) {
  return c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Bytes a request path can hold in a segment as they are (RFC 3986; the rest arrives
// percent-encoded), less what the pattern syntax uses.
bool IsLiteralChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f &&
         std::string_view("/?#\"<>\\^`|{}*").find(c) == std::string_view::npos;
}

// The next segment of `path` from `pos` (just after a "/"), advancing `pos` past it.
std::string_view NextSegment(std::string_view path, size_t& pos) {
  size_t end = path.find('/', pos);
  if (end == std::string_view::npos) end = path.size();
  std::string_view segment = path.substr(pos, end - pos);
  pos = end == path.size() ? end : end + 1;
  return segment;
}

}  // namespace

bool IsParamName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0)) return false;
  }
  return true;
}

absl::StatusOr<PathPattern> PathPattern::Compile(std::string_view pattern) {
  auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad path pattern: ", AsAbsl(why)));
  };
  if (pattern.empty() || pattern.front() != '/') return bad("must start with \"/\"");
  if (pattern.size() > kMaxPathPatternBytes) {
    return bad(absl::StrCat("must be at most ", kMaxPathPatternBytes, " bytes"));
  }
  PathPattern compiled;
  compiled.text_ = std::string(pattern);
  std::string_view rest = pattern.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // "/users/" is "/users".
  size_t pos = 0;
  while (pos < rest.size()) {
    std::string_view segment = NextSegment(rest, pos);
    if (compiled.wildcard_) return bad("\"*\" must be the last segment");
    if (segment.empty()) return bad("has an empty segment (\"//\")");
    if (segment == "*") {
      compiled.wildcard_ = true;
      continue;
    }
    if (segment.find_first_of("{}") != std::string_view::npos) {
      if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}') {
        return bad(absl::StrCat("segment ", QuoteForError(segment),
                                ": a parameter is \"{NAME}\", the whole segment"));
      }
      std::string_view name = segment.substr(1, segment.size() - 2);
      if (!IsParamName(name)) {
        return bad(absl::StrCat(QuoteForError(name),
                                " is not a parameter name (a letter or \"_\", then letters, "
                                "digits or \"_\")"));
      }
      if (name == "query") return bad("\"query\" cannot name a parameter (it names the query)");
      if (compiled.HasParam(name)) {
        return bad(absl::StrCat("parameter {", AsAbsl(name), "} repeated"));
      }
      compiled.segments_.push_back({"", std::string(name)});
      continue;
    }
    if (!std::all_of(segment.begin(), segment.end(), IsLiteralChar)) {
      return bad(absl::StrCat("segment ", QuoteForError(segment),
                              " is not a literal, \"{NAME}\" or a final \"*\" (no spaces, \"?\", "
                              "\"#\" or \"*\" inside a literal)"));
    }
    compiled.segments_.push_back({std::string(segment), ""});
  }
  return compiled;
}

bool PathPattern::Match(std::string_view path, PathParams* params) const {
  if (params != nullptr) params->clear();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto no = [params] {
    if (params != nullptr) params->clear();
    return false;
  };
  size_t pos = 0;
  for (const Segment& s : segments_) {
    std::string_view segment = pos < path.size() ? NextSegment(path, pos) : std::string_view();
    if (segment.empty() || (s.param.empty() && segment != s.literal)) return no();
    if (!s.param.empty() && params != nullptr) params->emplace_back(s.param, segment);
  }
  return wildcard_ || pos >= path.size() ? true : no();
}

bool PathPattern::HasParam(std::string_view name) const {
  return std::any_of(segments_.begin(), segments_.end(),
                     [&](const Segment& s) { return s.param == name; });
}

}  // namespace valet
