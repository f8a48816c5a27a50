#include "dataplane/fanout/route_table.h"

namespace valet {

bool RoutePattern::Match(std::string_view path, PathParams* params) const {
  params->clear();
  if (path.empty() || path == "/") return segments_.empty();
  if (path.front() != '/') return false;
  path.remove_prefix(1);
  for (const PatternSegment& segment : segments_) {
    if (path.empty()) return false;
    size_t slash = path.find('/');
    std::string_view value = path.substr(0, slash);
    if (value.empty()) return false;
    if (segment.param.empty()) {
      if (value != segment.literal) return false;
    } else {
      params->emplace_back(segment.param, value);
    }
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
    if (!path.empty()) path.remove_prefix(1);  // The '/' before the next segment.
    if (slash != std::string_view::npos && path.empty()) return false;  // A trailing '/'.
  }
  return path.empty();
}

const CompiledRoute* RouteTable::Match(std::string_view method, std::string_view path,
                                       PathParams* params) const {
  for (const CompiledRoute& route : routes_) {
    if (!route.method.empty() && route.method != method) continue;
    if (route.pattern.Match(path, params)) return &route;
  }
  params->clear();
  return nullptr;
}

}  // namespace valet
