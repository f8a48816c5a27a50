#include "common/path_pattern.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/string_view.h"

namespace valet {
namespace {

constexpr size_t kMaxPatternBytes = 1024;

bool IsNameChar(char c, bool first) {
  return c == '_' || std::isalpha(static_cast<unsigned char>(c)) ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// Bytes a normalised request path can hold in a segment (no "/", "?", "#", spaces or controls).
bool IsLiteralChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '/' && c != '?' && c != '#' && c != '{' && c != '}' &&
         c != '*';
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

absl::StatusOr<PathPattern> PathPattern::Compile(std::string_view pattern) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad path pattern: ", AsAbsl(why)));
  };
  if (pattern.empty() || pattern.front() != '/') return bad("must start with \"/\"");
  if (pattern.size() > kMaxPatternBytes) {
    return bad(absl::StrCat("must be at most ", kMaxPatternBytes, " bytes"));
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
    if (segment.front() == '{') {
      if (segment.size() < 3 || segment.back() != '}') {
        return bad("a parameter is \"{name}\", the whole segment");
      }
      std::string_view name = segment.substr(1, segment.size() - 2);
      for (size_t i = 0; i < name.size(); ++i) {
        if (!IsNameChar(name[i], i == 0)) {
          return bad("a parameter name is a letter or \"_\" then letters, digits or \"_\"");
        }
      }
      for (const Segment& s : compiled.segments_) {
        if (s.param == name) return bad(absl::StrCat("parameter {", AsAbsl(name), "} repeated"));
      }
      compiled.segments_.push_back({"", std::string(name)});
      continue;
    }
    for (char c : segment) {
      if (!IsLiteralChar(c)) {
        return bad(
            "a segment is a literal, \"{name}\" or a final \"*\" (no spaces, \"?\", \"#\", "
            "braces or \"*\" inside a literal)");
      }
    }
    compiled.segments_.push_back({std::string(segment), ""});
  }
  return compiled;
}

bool PathPattern::Match(std::string_view path, Params* params) const {
  if (params != nullptr) params->clear();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t pos = 0;
  for (const Segment& s : segments_) {
    if (pos >= path.size()) return false;
    std::string_view segment = NextSegment(path, pos);
    if (segment.empty()) return false;
    if (!s.param.empty()) {
      if (params != nullptr) params->emplace_back(s.param, std::string(segment));
    } else if (segment != s.literal) {
      return false;
    }
  }
  return wildcard_ || pos >= path.size();
}

}  // namespace valet
