#include "dataplane/request_target.h"

#include <vector>

#include "absl/strings/match.h"
#include "common/string_view.h"

namespace valet {
namespace {

// Not boost::beast::iequals: Boost 1.74's reads one byte past the end of both strings when they
// differ in case in their last byte ("%2E" against "%2e"), and these are views into the request.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AsAbsl(a), AsAbsl(b));
}

// "." or "%2e" (any case): the segment means "this directory".
bool IsDot(std::string_view s) { return s == "." || EqualsIgnoreCase(s, "%2e"); }

// ".." in any mix of literal and percent-encoded dots.
bool IsDotDot(std::string_view s) {
  for (std::string_view a : {".", "%2e"}) {
    for (std::string_view b : {".", "%2e"}) {
      if (s.size() == a.size() + b.size() && EqualsIgnoreCase(s.substr(0, a.size()), a) &&
          EqualsIgnoreCase(s.substr(a.size()), b)) {
        return true;
      }
    }
  }
  return false;
}

// True if a backend that decodes "%2F" or "%5C", takes "\\" for "/", or drops ";params" could
// read a dot-segment inside `segment` ("..%2f..", "..;x", "a\\..").
bool HidesDotSegment(std::string_view segment) {
  // The common case costs one scan and no copy.
  if (segment.find_first_of("%\\;") == std::string_view::npos) return false;
  std::string flat;
  flat.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '\\') {
      flat.push_back('/');
    } else if (segment[i] == '%' && i + 2 < segment.size() &&
               (EqualsIgnoreCase(segment.substr(i, 3), "%2f") ||
                EqualsIgnoreCase(segment.substr(i, 3), "%5c"))) {
      flat.push_back('/');
      i += 2;
    } else {
      flat.push_back(segment[i]);
    }
  }
  size_t pos = 0;
  while (pos <= flat.size()) {
    size_t end = flat.find('/', pos);
    if (end == std::string::npos) end = flat.size();
    std::string_view part = std::string_view(flat).substr(pos, end - pos);
    part = part.substr(0, part.find(';'));
    if (IsDot(part) || IsDotDot(part)) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

absl::StatusOr<RequestTarget> ParseRequestTarget(std::string_view target) {
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError("request target contains a control character or space");
    }
  }
  // absolute-form: drop "scheme://authority".
  std::string rebuilt;
  if (!target.empty() && target.front() != '/') {
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos ||
        !(EqualsIgnoreCase(target.substr(0, scheme_end), "http") ||
          EqualsIgnoreCase(target.substr(0, scheme_end), "https"))) {
      return absl::InvalidArgumentError("request target must start with \"/\"");
    }
    size_t path_start = target.find_first_of("/?", scheme_end + 3);
    if (path_start == std::string_view::npos) {
      target = "/";
    } else if (target[path_start] == '?') {
      // "http://h?q" means path "/" with a query; rebuild as origin-form below.
      rebuilt = "/";
      rebuilt.append(target.substr(path_start));
      target = rebuilt;
    } else {
      target = target.substr(path_start);
    }
  }
  if (target.empty()) return absl::InvalidArgumentError("empty request target");

  RequestTarget out;
  std::string_view path = target;
  size_t hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);
  size_t q = path.find('?');
  if (q != std::string_view::npos) {
    out.query = std::string(path.substr(q + 1));
    path = path.substr(0, q);
  }

  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  size_t pos = 1;  // path[0] == '/'
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(pos, end - pos);
    bool last = end == path.size();
    if (seg.empty()) {
      // Merged slash; a final empty segment is a trailing slash.
      trailing_slash = last;
    } else if (IsDot(seg)) {
      trailing_slash = true;
    } else if (IsDotDot(seg)) {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = true;
    } else if (HidesDotSegment(seg)) {
      return absl::InvalidArgumentError(
          "path segment hides a dot-segment (encoded slash, backslash or \";\")");
    } else {
      segments.push_back(seg);
      trailing_slash = false;
    }
    pos = end + 1;
  }

  if (segments.empty()) return out;
  out.app = std::string(segments.front());
  for (size_t i = 1; i < segments.size(); ++i) {
    out.rest.push_back('/');
    out.rest.append(segments[i]);
  }
  if (trailing_slash) out.rest.push_back('/');
  return out;
}

std::string UpstreamTarget(std::string_view prefix, const RequestTarget& target) {
  std::string out;
  out.reserve(prefix.size() + target.rest.size() + target.query.size() + 2);
  out.append(prefix);
  std::string_view rest = target.rest;
  if (!out.empty() && out.back() == '/' && !rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
  }
  out.append(rest);
  if (out.empty()) out.push_back('/');
  if (!target.query.empty()) {
    out.push_back('?');
    out.append(target.query);
  }
  return out;
}

}  // namespace valet
