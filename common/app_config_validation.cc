#include "common/app_config_validation.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ca_file_check.h"
#include "common/error_text.h"
#include "common/message_limits.h"
#include "common/path_pattern.h"
#include "common/route_syntax.h"
#include "common/secret_redaction.h"
#include "common/sha256.h"
#include "common/string_view.h"
#include "common/validation_errors.h"
#include "nlohmann/json.hpp"

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

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
  });
}

// A consumer name: what X-Valet-Consumer carries to the backend and what limits are shown by.
bool IsValidConsumerName(std::string_view name) {
  if (name.empty() || name.size() > kMaxConsumerNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '@';
  });
}

constexpr std::string_view kRedactedRefusal =
    "is a redacted value that stands for no stored key (a redacted value keeps the key stored "
    "for the same app, or the consumer of the same name, when applied through the control "
    "plane): give the key itself";

// The consumers of `app`: names, keys, and no two consumers (or a consumer and authKey) with the
// same name or key. Keys are compared by their SHA-256, so a plain key and a keySha256 of the same
// key are the same key. Errors name the field, never the key.
void ValidateConsumers(const v1::AppConfig& app, RedactedKeys redacted,
                       const std::function<void(std::string_view, std::string_view)>& error) {
  if (static_cast<size_t>(app.consumers_size()) > kMaxConsumersPerApp) {
    error("consumers", TooManyConsumersError(app.consumers_size()));
    return;
  }
  std::map<std::string, int> by_name;
  std::map<std::string, std::string> by_digest;  // Hex SHA-256 -> the field that holds it.
  if (!app.auth_key().empty() && !IsRedactedMarker(app.auth_key())) {
    by_digest.emplace(Sha256Hex(app.auth_key()), "authKey");
  }
  for (int i = 0; i < app.consumers_size(); ++i) {
    const v1::Consumer& c = app.consumers(i);
    std::string path = absl::StrCat("consumers[", i, "]");
    if (c.name().empty()) {
      error(path + ".name", "is required");
    } else if (!IsValidConsumerName(c.name())) {
      error(path + ".name",
            absl::StrCat(QuoteForError(c.name()), " is not a consumer name: use 1 to ",
                         kMaxConsumerNameBytes, " of A-Z a-z 0-9 . _ - @"));
    } else if (auto [it, inserted] = by_name.emplace(c.name(), i); !inserted) {
      error(path + ".name", absl::StrCat("duplicate consumer name ", QuoteForError(c.name()),
                                         " (also consumers[", it->second, "])"));
    }
    std::string digest;
    if (!c.key().empty() && !c.key_sha256().empty()) {
      error(path, "has both key and keySha256: give one");
    } else if (c.key().empty() && c.key_sha256().empty()) {
      error(path + ".key", "is required and must not be empty (or give keySha256)");
    } else if (!c.key().empty()) {
      if (c.key().size() > kMaxAuthKeyBytes) {
        error(path + ".key", AtMostBytes(kMaxAuthKeyBytes));
      } else if (IsRedactedMarker(c.key())) {
        if (redacted == RedactedKeys::kRefused) error(path + ".key", kRedactedRefusal);
      } else {
        digest = Sha256Hex(c.key());
      }
    } else if (c.key_sha256().size() != 64 || !IsLowerHex(absl::AsciiStrToLower(c.key_sha256()))) {
      error(path + ".keySha256", "must be 64 hex digits (the SHA-256 of the key)");
    } else {
      digest = absl::AsciiStrToLower(c.key_sha256());
    }
    if (!digest.empty()) {
      std::string field = absl::StrCat(path, c.key().empty() ? ".keySha256" : ".key");
      auto [it, inserted] = by_digest.emplace(digest, field);
      if (!inserted) error(field, absl::StrCat("is the same key as ", it->second));
    }
    if (!InRange(c.limit_period_seconds(), kLimitPeriodSecondsRange)) {
      error(path + ".limitPeriodSeconds", RangeError(kLimitPeriodSecondsRange));
    }
  }
}

bool IsMethod(std::string_view method) {
  if (method.empty() || method.size() > 32) return false;
  return std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// Header fields whose value the gateway sets itself when it writes an answer.
bool IsFramingHeader(std::string_view name) {
  for (std::string_view framing : {"content-length", "transfer-encoding", "connection",
                                   "keep-alive", "upgrade", "trailer", "te"}) {
    if (name.size() == framing.size() &&
        std::equal(name.begin(), name.end(), framing.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

bool IsHeaderValue(std::string_view value) {
  // Visible characters, spaces and tabs (RFC 9110 field-value): no CR or LF can split the answer.
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

void ValidateMocks(const v1::AppConfig& app,
                   const std::function<void(std::string_view, std::string_view)>& error) {
  if (static_cast<size_t>(app.mocks_size()) > kMaxMocksPerApp) {
    error("mocks", TooManyMocksError(app.mocks_size()));
    return;
  }
  for (int i = 0; i < app.mocks_size(); ++i) {
    const v1::Mock& mock = app.mocks(i);
    std::string path = absl::StrCat("mocks[", i, "]");
    if (!mock.method().empty() && mock.method() != "*" && !IsMethod(mock.method())) {
      error(path + ".method",
            absl::StrCat(QuoteForError(mock.method()),
                         " is not a method (upper-case letters, like \"GET\"; \"*\" for any)"));
    }
    if (mock.path().empty()) {
      error(path + ".path", "is required");
    } else if (absl::StatusOr<PathPattern> p = PathPattern::Compile(mock.path()); !p.ok()) {
      error(path + ".path", AsStd(p.status().message()));
    }
    if (mock.status() != 0 && !InRange(mock.status(), kMockStatusRange)) {
      error(path + ".status", RangeError(kMockStatusRange));
    }
    if (static_cast<size_t>(mock.headers_size()) > kMaxMockHeaders) {
      error(path + ".headers", absl::StrCat("must be at most ", kMaxMockHeaders, " headers"));
    } else {
      for (int h = 0; h < mock.headers_size(); ++h) {
        const v1::MockHeader& header = mock.headers(h);
        std::string hpath = absl::StrCat(path, ".headers[", h, "]");
        if (header.name().empty() || header.name().size() > kMaxHeaderNameBytes ||
            !std::all_of(header.name().begin(), header.name().end(), IsTokenChar)) {
          error(hpath + ".name", "is not a header name");
        } else if (IsFramingHeader(header.name())) {
          error(hpath + ".name", absl::StrCat(QuoteForError(header.name()),
                                              " is set by the gateway, not by a mock"));
        }
        if (header.value().size() > kMaxMockHeaderValueBytes) {
          error(hpath + ".value", AtMostBytes(kMaxMockHeaderValueBytes));
        } else if (!IsHeaderValue(header.value())) {
          error(hpath + ".value", "must not hold control characters (CR, LF, ...)");
        }
      }
    }
    if (!mock.json().empty() && !mock.text().empty()) {
      error(path, "has both a json and a text body: give one");
    }
    if (mock.json().size() > kMaxMockBodyBytes) {
      error(path + ".json", AtMostBytes(kMaxMockBodyBytes));
    } else if (!mock.json().empty() && !nlohmann::json::accept(mock.json())) {
      error(path + ".json", "is not JSON text");
    }
    if (mock.text().size() > kMaxMockBodyBytes)
      error(path + ".text", AtMostBytes(kMaxMockBodyBytes));
    if (!InRange(mock.delay_ms(), kMockDelayMsRange)) {
      error(path + ".delayMs", RangeError(kMockDelayMsRange));
    }
  }
}

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
    absl::StatusOr<PathPattern> pattern = PathPattern::Compile(route.path());
    if (route.path().empty()) {
      error(path + ".path", "is required");
    } else if (!pattern.ok()) {
      error(path + ".path", AsStd(pattern.status().message()));
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

std::string TooManyMocksError(size_t count) {
  return absl::StrCat("must be at most ", kMaxMocksPerApp, " mocks, got ", count);
}

std::string TooManyRoutesError(size_t count) {
  return absl::StrCat("must be at most ", kMaxRoutesPerApp, " routes, got ", count);
}

std::string TooManyBackendsError(size_t count) {
  return absl::StrCat("must be at most ", kMaxBackendsPerRoute, " backends, got ", count);
}

std::string RangeError(const NumericRange& range) {
  return absl::StrCat("must be ", range.lo, "..", range.hi, AsAbsl(range.note));
}

std::string TooManyConsumersError(size_t count) {
  return absl::StrCat("must be at most ", kMaxConsumersPerApp, " consumers, got ", count);
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
                                                   std::string_view source, RedactedKeys redacted) {
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
  if (app.authorize() && app.auth_key().empty() && app.consumers().empty()) {
    error("authKey", "is required when authorize is true (or at least one consumer)");
  }
  if (app.auth_key().size() > kMaxAuthKeyBytes) {
    error("authKey", AtMostBytes(kMaxAuthKeyBytes));
  } else if (IsRedactedMarker(app.auth_key()) && redacted == RedactedKeys::kRefused) {
    error("authKey", kRedactedRefusal);
  }
  ValidateConsumers(app, redacted, error);
  if (app.auth_header().size() > kMaxHeaderNameBytes) {
    error("authHeader", AtMostBytes(kMaxHeaderNameBytes));
  } else if (!std::all_of(app.auth_header().begin(), app.auth_header().end(), IsTokenChar)) {
    error("authHeader", absl::StrCat(QuoteForError(app.auth_header()), " is not a header name"));
  } else if (absl::EqualsIgnoreCase(app.auth_header(), AsAbsl(kConsumerHeader))) {
    error("authHeader", absl::StrCat("cannot be ", AsAbsl(kConsumerHeader),
                                     ": the gateway sets that header itself"));
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
      if (!ep.scheme().empty() && ep.scheme() != kDefaultScheme && ep.scheme() != "https") {
        error(path + ".scheme", absl::StrCat(QuoteForError(ep.scheme()),
                                             " is not supported (\"http\" or \"https\")"));
      }
      if (!InRange(ep.weight(), kWeightRange)) error(path + ".weight", RangeError(kWeightRange));
    }
  }
  if (!app.backend_ca_file().empty()) {
    if (app.backend_ca_file().size() > kMaxCaFilePathBytes) {
      error("backendCaFile", AtMostBytes(kMaxCaFilePathBytes));
    } else if (absl::Status ca = CheckCaFile(app.backend_ca_file()); !ca.ok()) {
      error("backendCaFile", std::string(ca.message()));
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
  ValidateMocks(app, error);
  ValidateRoutes(app, error);
  return errors;
}

absl::Status ValidateAppSet(const std::vector<SourcedApp>& apps, RedactedKeys redacted) {
  std::vector<v1::ValidationError> errors;
  std::map<std::string, const SourcedApp*> by_name;
  for (const SourcedApp& s : apps) {
    std::vector<v1::ValidationError> e = ValidateAppConfig(s.app, s.source, redacted);
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
