#include "common/app_config_validation.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_defaults.h"
#include "common/string_view.h"

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

}  // namespace

bool IsValidAppName(std::string_view name) {
  // A leading '.' would make a hidden file (NAME.json) that the conf dir ignores on reload.
  if (name.empty() || name.size() > kMaxAppNameLength || name.front() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

std::vector<std::string> ValidateAppConfig(const v1::AppConfig& app, std::string_view source) {
  std::vector<std::string> errors;
  auto error = [&](std::string_view path, std::string_view reason) {
    errors.push_back(absl::StrCat(AsAbsl(source), ": ", AsAbsl(path), ": ", AsAbsl(reason)));
  };

  if (app.name().empty()) {
    error("name", "is required");
  } else if (app.name().front() == '.' && app.name() != "." && app.name() != ".." &&
             IsValidAppName(app.name().substr(1))) {
    error("name", absl::StrCat("\"", app.name(),
                               "\" cannot start with \".\": its file would be hidden and ignored "
                               "when the conf dir is read"));
  } else if (!IsValidAppName(app.name())) {
    error("name", absl::StrCat("\"", app.name(),
                               "\" cannot be a path segment: use 1 to 64 of A-Z a-z 0-9 . _ - "
                               "(not starting with \".\")"));
  }
  if (app.authorize() && app.auth_key().empty()) {
    error("authKey", "is required when authorize is true");
  }
  if (!app.auth_header().empty()) {
    bool token = std::all_of(app.auth_header().begin(), app.auth_header().end(), IsTokenChar);
    if (!token) error("authHeader", absl::StrCat("\"", app.auth_header(), "\" is not a header name"));
  }
  if (app.rate_limit() && app.limit_value() == 0) {
    error("limitValue", "must be at least 1 when rateLimit is true");
  }
  if (app.limit_period_seconds() > 86400 * 366) {
    error("limitPeriodSeconds", "must be at most one year (31622400)");
  }
  if (app.endpoints().empty()) {
    error("endpoints", "at least one endpoint is required");
  }
  for (int i = 0; i < app.endpoints_size(); ++i) {
    const v1::Endpoint& ep = app.endpoints(i);
    std::string path = absl::StrCat("endpoints[", i, "]");
    if (ep.host().empty()) {
      error(path + ".host", "is required");
    } else if (!IsValidHost(ep.host())) {
      error(path + ".host", absl::StrCat("\"", ep.host(), "\" is not a host name or address"));
    }
    if (ep.port() < 1 || ep.port() > 65535) {
      error(path + ".port", absl::StrCat(ep.port(), " is out of range (1..65535)"));
    }
    if (!IsValidPathPrefix(ep.path())) {
      error(path + ".path", absl::StrCat("\"", ep.path(),
                                         "\" must be empty or start with \"/\", without spaces, "
                                         "\"?\" or \"#\""));
    }
    if (!ep.scheme().empty() && ep.scheme() != kDefaultScheme) {
      error(path + ".scheme",
            absl::StrCat("\"", ep.scheme(), "\" is not supported (only \"http\")"));
    }
    if (ep.weight() > kMaxEndpointWeight) {
      error(path + ".weight", absl::StrCat(ep.weight(), " is out of range (1..1000)"));
    }
  }
  if (!app.balancing().empty() && app.balancing() != kBalancingLeastRequest &&
      app.balancing() != kBalancingRoundRobin) {
    error("balancing", absl::StrCat("\"", app.balancing(),
                                    "\" is not a policy (\"least_request\" or \"round_robin\")"));
  }
  if (app.connect_timeout_ms() > kMaxTimeoutMs) {
    error("connectTimeoutMs", "must be at most 3600000 (one hour)");
  }
  if (app.request_timeout_ms() > kMaxTimeoutMs) {
    error("requestTimeoutMs", "must be at most 3600000 (one hour)");
  }
  return errors;
}

absl::Status ValidateAppSet(const std::vector<SourcedApp>& apps) {
  std::vector<std::string> errors;
  std::map<std::string, const SourcedApp*> by_name;
  for (const SourcedApp& s : apps) {
    std::vector<std::string> e = ValidateAppConfig(s.app, s.source);
    errors.insert(errors.end(), e.begin(), e.end());
    if (s.app.name().empty()) continue;
    auto [it, inserted] = by_name.emplace(s.app.name(), &s);
    if (!inserted) {
      errors.push_back(absl::StrCat(s.source, ": name: duplicate app name \"", s.app.name(),
                                    "\" (also in ", it->second->source, ")"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

}  // namespace valet
