#include "common/app_config_validation.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/error_text.h"
#include "common/message_limits.h"
#include "common/route_syntax.h"
#include "common/string_view.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

// RFC 9110 token characters: what a header field name may hold.
bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsValidHost(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' &&
        c != ':' && c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

bool IsValidPathPrefix(std::string_view path) {
  if (path.empty()) return true;
  if (path.front() != '/') return false;
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '?' || c == '#') return false;
  }
  return true;
}

bool InRange(uint32_t value, const NumericRange& range) {
  return value >= range.lo && value <= range.hi;
}

std::string AtMostBytes(size_t limit) { return absl::StrCat("must be at most ", limit, " bytes"); }

// The routes of one app (everything but whether a backend's app exists: ValidateAppSet knows).
void ValidateRoutes(const v1::AppConfig& app,
                    const std::function<void(std::string_view, std::string_view)>& error) {
  if (static_cast<size_t>(app.routes_size()) > kMaxRoutesPerApp) {
    return error("routes", TooManyRoutesError(app.routes_size()));
  }
  for (int i = 0; i < app.routes_size(); ++i) {
    const v1::Route& route = app.routes(i);
    std::string path = absl::StrCat("routes[", i, "]");
    if (!route.method().empty() && route.method() != "*" &&
        (route.method().size() > 32 ||
         !std::all_of(route.method().begin(), route.method().end(), IsTokenChar))) {
      error(path + ".method", absl::StrCat(QuoteForError(route.method()),
                                           " is not a method (\"GET\", ...; \"\" or \"*\": any)"));
    }
    absl::StatusOr<std::vector<PatternSegment>> pattern = ParseRoutePattern(route.path());
    if (route.path().empty()) {
      error(path + ".path", "is required");
    } else if (!pattern.ok()) {
      error(path + ".path",
            absl::StrCat(QuoteForError(route.path()), ": ", pattern.status().message()));
    }
    if (!route.collision().empty() && route.collision() != kCollisionError &&
        route.collision() != kCollisionFirst && route.collision() != kCollisionLast) {
      error(path + ".collision", absl::StrCat(QuoteForError(route.collision()),
                                              " is not a policy (\"error\", \"first\" or "
                                              "\"last\")"));
    }
    if (route.backends().empty()) {
      error(path + ".backends", "at least one backend is required");
      continue;
    }
    if (static_cast<size_t>(route.backends_size()) > kMaxBackendsPerRoute) {
      error(path + ".backends", TooManyBackendsError(route.backends_size()));
      continue;
    }
    std::map<std::string, int> names;
    for (int j = 0; j < route.backends_size(); ++j) {
      const v1::RouteBackend& b = route.backends(j);
      std::string bpath = absl::StrCat(path, ".backends[", j, "]");
      if (!b.app().empty() && !b.url().empty()) {
        error(bpath + ".url", "give app or url, not both");
      } else if (b.app().empty() && b.url().empty()) {
        error(bpath + ".app", "app or url is required");
      } else if (!b.app().empty() && !IsValidAppName(b.app())) {
        error(bpath + ".app", absl::StrCat(QuoteForError(b.app()), " is not an app name"));
      } else if (!b.url().empty()) {
        absl::StatusOr<BackendUrl> url = ParseBackendUrl(b.url());
        if (!url.ok()) {
          error(bpath + ".url", absl::StrCat(QuoteForError(b.url()), ": ", url.status().message()));
        } else if (url->prefix.size() > kMaxEndpointPathBytes) {
          error(bpath + ".url", AtMostBytes(kMaxEndpointPathBytes));
        }
      }
      if (!b.path().empty()) {
        absl::StatusOr<std::vector<TemplatePiece>> pieces = ParsePathTemplate(b.path());
        if (!pieces.ok()) {
          error(bpath + ".path",
                absl::StrCat(QuoteForError(b.path()), ": ", pieces.status().message()));
        } else if (pattern.ok()) {
          for (const std::string& name : UnknownTemplateParams(*pieces, *pattern)) {
            error(bpath + ".path",
                  absl::StrCat("{", name, "} is not a parameter of the route's path ",
                               QuoteForError(route.path())));
          }
        }
      }
      if (b.group().size() > kMaxGroupBytes) {
        error(bpath + ".group", AtMostBytes(kMaxGroupBytes));
      } else if (b.group() == "_valet") {
        error(bpath + ".group", "\"_valet\" is the gateway's own key in a merged answer");
      }
      // The name goes into a header (X-Valet-Missing) and metric labels: plain characters only.
      if (b.name().size() > kMaxGroupBytes) {
        error(bpath + ".name", AtMostBytes(kMaxGroupBytes));
      } else if (!std::all_of(b.name().begin(), b.name().end(), [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) ||
                          std::string_view("-_.:[]").find(c) != std::string_view::npos;
                 })) {
        error(bpath + ".name",
              absl::StrCat(QuoteForError(b.name()), " may hold only A-Z a-z 0-9 and - _ . : [ ]"));
      }
      if (!InRange(b.timeout_ms(), kTimeoutMsRange)) {
        error(bpath + ".timeoutMs", RangeError(kTimeoutMsRange));
      }
      std::string name = BackendNameOf(b.name(), b.app(), b.url());
      auto [it, inserted] = names.emplace(name, j);
      if (!inserted) {
        error(bpath + ".name",
              absl::StrCat("backends[", it->second, "] is also called ", QuoteForError(name),
                           ": give each backend of a route its own name"));
      }
    }
  }
}

}  // namespace

std::string TooManyRoutesError(size_t count) {
  return absl::StrCat("must be at most ", kMaxRoutesPerApp, " routes, got ", count);
}

std::string TooManyBackendsError(size_t count) {
  return absl::StrCat("must be at most ", kMaxBackendsPerRoute, " backends, got ", count);
}

std::string RangeError(const NumericRange& range) {
  return absl::StrCat("must be ", range.lo, "..", range.hi, AsAbsl(range.note));
}

std::string TooManyEndpointsError(size_t count) {
  return absl::StrCat("must be at most ", kMaxEndpointsPerApp, " endpoints, got ", count);
}

bool IsValidAppName(std::string_view name) {
  // A leading '.' would make a hidden file (NAME.json) that the conf dir ignores on reload.
  if (name.empty() || name.size() > kMaxAppNameLength || name.front() == '.') return false;
  bool letter_or_digit = false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      letter_or_digit = true;
    } else if (c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  // "-" or "_" alone is a valid path segment but no name an operator can tell apart from a typo
  // or a placeholder in a URL.
  return letter_or_digit;
}

std::vector<v1::ValidationError> ValidateAppConfig(const v1::AppConfig& app,
                                                   std::string_view source) {
  std::vector<v1::ValidationError> errors;
  auto error = [&](std::string_view path, std::string_view reason) {
    errors.push_back(MakeValidationError(source, path, reason));
  };

  if (app.name().empty()) {
    error("name", "is required");
  } else if (app.name().front() == '.' && app.name() != "." && app.name() != ".." &&
             IsValidAppName(app.name().substr(1))) {
    error("name", absl::StrCat(QuoteForError(app.name()),
                               " cannot start with \".\": its file would be hidden and ignored "
                               "when the conf dir is read"));
  } else if (!IsValidAppName(app.name())) {
    error("name", absl::StrCat(QuoteForError(app.name()),
                               " cannot be a path segment: use 1 to 64 of A-Z a-z 0-9 . _ - with "
                               "at least one letter or digit (not starting with \".\")"));
  }
  if (app.description().size() > kMaxDescriptionBytes) {
    error("description", AtMostBytes(kMaxDescriptionBytes));
  }
  // The key itself never appears in an error: only its field and its size limit.
  if (app.authorize() && app.auth_key().empty()) {
    error("authKey", "is required when authorize is true");
  }
  if (app.auth_key().size() > kMaxAuthKeyBytes) error("authKey", AtMostBytes(kMaxAuthKeyBytes));
  if (app.auth_header().size() > kMaxHeaderNameBytes) {
    error("authHeader", AtMostBytes(kMaxHeaderNameBytes));
  } else if (!std::all_of(app.auth_header().begin(), app.auth_header().end(), IsTokenChar)) {
    error("authHeader", absl::StrCat(QuoteForError(app.auth_header()), " is not a header name"));
  }
  if (app.rate_limit() && app.limit_value() == 0) {
    error("limitValue", "must be at least 1 when rateLimit is true");
  }
  if (!InRange(app.limit_period_seconds(), kLimitPeriodSecondsRange)) {
    error("limitPeriodSeconds", RangeError(kLimitPeriodSecondsRange));
  }
  if (app.endpoints().empty()) {
    error("endpoints", "at least one endpoint is required");
  } else if (static_cast<size_t>(app.endpoints_size()) > kMaxEndpointsPerApp) {
    // The count is the error; checking each of them would only make it longer.
    error("endpoints", TooManyEndpointsError(app.endpoints_size()));
  } else {
    for (int i = 0; i < app.endpoints_size(); ++i) {
      const v1::Endpoint& ep = app.endpoints(i);
      std::string path = absl::StrCat("endpoints[", i, "]");
      if (ep.host().empty()) {
        error(path + ".host", "is required");
      } else if (!IsValidHost(ep.host())) {
        error(path + ".host",
              absl::StrCat(QuoteForError(ep.host()), " is not a host name or address"));
      }
      if (!InRange(ep.port(), kPortRange)) error(path + ".port", RangeError(kPortRange));
      if (ep.path().size() > kMaxEndpointPathBytes) {
        error(path + ".path", AtMostBytes(kMaxEndpointPathBytes));
      } else if (!IsValidPathPrefix(ep.path())) {
        error(path + ".path", absl::StrCat(QuoteForError(ep.path()),
                                           " must be empty or start with \"/\", without spaces, "
                                           "\"?\" or \"#\""));
      }
      if (!ep.scheme().empty() && ep.scheme() != kDefaultScheme) {
        error(path + ".scheme",
              absl::StrCat(QuoteForError(ep.scheme()), " is not supported (only \"http\")"));
      }
      if (!InRange(ep.weight(), kWeightRange)) error(path + ".weight", RangeError(kWeightRange));
    }
  }
  if (!app.balancing().empty() && app.balancing() != kBalancingLeastRequest &&
      app.balancing() != kBalancingRoundRobin) {
    error("balancing", absl::StrCat(QuoteForError(app.balancing()),
                                    " is not a policy (\"least_request\" or \"round_robin\")"));
  }
  if (!InRange(app.connect_timeout_ms(), kTimeoutMsRange)) {
    error("connectTimeoutMs", RangeError(kTimeoutMsRange));
  }
  if (!InRange(app.request_timeout_ms(), kTimeoutMsRange)) {
    error("requestTimeoutMs", RangeError(kTimeoutMsRange));
  }
  ValidateRoutes(app, error);
  return errors;
}

absl::Status ValidateAppSet(const std::vector<SourcedApp>& apps) {
  std::vector<v1::ValidationError> errors;
  std::map<std::string, const SourcedApp*> by_name;
  for (const SourcedApp& s : apps) {
    std::vector<v1::ValidationError> e = ValidateAppConfig(s.app, s.source);
    errors.insert(errors.end(), e.begin(), e.end());
    if (s.app.name().empty()) continue;
    auto [it, inserted] = by_name.emplace(s.app.name(), &s);
    if (!inserted) {
      errors.push_back(
          MakeValidationError(s.source, "name",
                              absl::StrCat("duplicate app name ", QuoteForError(s.app.name()),
                                           " (also in ", it->second->source, ")")));
    }
  }
  // A fan-out backend that names an app names one of this set.
  for (const SourcedApp& s : apps) {
    for (int i = 0; i < s.app.routes_size(); ++i) {
      const v1::Route& route = s.app.routes(i);
      for (int j = 0; j < route.backends_size(); ++j) {
        const std::string& app = route.backends(j).app();
        if (app.empty() || !IsValidAppName(app) || by_name.count(app) > 0) continue;
        errors.push_back(MakeValidationError(
            s.source, absl::StrCat("routes[", i, "].backends[", j, "].app"),
            absl::StrCat("no app named ", QuoteForError(app), " in this configuration")));
      }
    }
  }
  return ValidationFailed(errors);
}

}  // namespace valet
