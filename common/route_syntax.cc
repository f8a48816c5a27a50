#include "common/route_syntax.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "common/error_text.h"
#include "common/string_view.h"

namespace valet {
namespace {

// Bytes a request target may not hold as they are: controls, space, '#', and non-ASCII.
bool IsTargetChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' &&
         c != '^' && c != '`' && c != '|';
}

absl::Status Invalid(std::string reason) { return absl::InvalidArgumentError(std::move(reason)); }

}  // namespace

absl::StatusOr<std::vector<TemplatePiece>> ParsePathTemplate(std::string_view path_template) {
  if (path_template.empty() || path_template.front() != '/') {
    return Invalid("must start with \"/\"");
  }
  if (path_template.size() > kMaxRoutePathBytes) {
    return Invalid(absl::StrCat("must be at most ", kMaxRoutePathBytes, " bytes"));
  }
  std::vector<TemplatePiece> pieces;
  bool in_query = false;
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    pieces.push_back({TemplatePiece::Kind::kLiteral, std::move(literal), in_query});
    literal.clear();
  };
  for (size_t i = 0; i < path_template.size(); ++i) {
    char c = path_template[i];
    if (c == '}') return Invalid("has a \"}\" that closes no \"{\"");
    if (c != '{') {
      if (!IsTargetChar(c)) {
        return Invalid("holds a character a request target cannot hold (space, control, \"#\")");
      }
      if (c == '?') {
        if (in_query) return Invalid("has more than one \"?\"");
        flush();
        in_query = true;
        continue;
      }
      literal.push_back(c);
      continue;
    }
    size_t close = path_template.find('}', i);
    if (close == std::string_view::npos) return Invalid("has a \"{\" that is not closed");
    std::string_view name = path_template.substr(i + 1, close - i - 1);
    flush();
    TemplatePiece piece;
    piece.in_query = in_query;
    if (name == "query") {
      piece.kind = TemplatePiece::Kind::kWholeQuery;
    } else if (name.substr(0, 6) == "query.") {
      piece.kind = TemplatePiece::Kind::kQueryParam;
      piece.text = std::string(name.substr(6));
      if (piece.text.empty() || piece.text.size() > 256 ||
          !std::all_of(piece.text.begin(), piece.text.end(), [](char q) {
            return IsTargetChar(q) && q != '&' && q != '=' && q != '{' && q != '}' && q != '?';
          })) {
        return Invalid(absl::StrCat(QuoteForError(name), " is not a query parameter name"));
      }
    } else {
      if (!IsParamName(name)) {
        return Invalid(absl::StrCat(QuoteForError(name),
                                    " is not a parameter name: use {NAME}, {query.NAME} or "
                                    "{query}"));
      }
      piece.kind = TemplatePiece::Kind::kParam;
      piece.text = std::string(name);
    }
    pieces.push_back(std::move(piece));
    i = close;
  }
  flush();
  return pieces;
}

std::vector<std::string> UnknownTemplateParams(const std::vector<TemplatePiece>& pieces,
                                               const PathPattern& pattern) {
  std::vector<std::string> unknown;
  for (const TemplatePiece& p : pieces) {
    if (p.kind == TemplatePiece::Kind::kParam && !pattern.HasParam(p.text)) {
      unknown.push_back(p.text);
    }
  }
  return unknown;
}

absl::StatusOr<BackendUrl> ParseBackendUrl(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, 8) == "https://") {
    return Invalid("https backends are not supported yet: use an http:// URL");
  }
  if (url.substr(0, kHttp.size()) != kHttp) return Invalid("must start with \"http://\"");
  std::string_view rest = url.substr(kHttp.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  BackendUrl out;
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    for (char c : prefix) {
      if (!IsTargetChar(c) || c == '?') {
        return Invalid("its path must be a plain prefix, without spaces, \"?\" or \"#\"");
      }
    }
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    out.prefix = std::string(prefix);
  }
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("must not hold credentials (user@host)");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("has an unclosed \"[\"");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Invalid("has text after the host");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
               c == ':' || c == '[' || c == ']';
      })) {
    return Invalid("does not name a host");
  }
  out.host = std::string(host);
  if (!port.empty() || authority.back() == ':') {
    uint32_t value = 0;
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        })) {
      return Invalid("has a port that is not a number 1..65535");
    }
    for (char c : port) value = value * 10 + static_cast<uint32_t>(c - '0');
    if (value < 1 || value > 65535) return Invalid("has a port that is not a number 1..65535");
    out.port = static_cast<uint16_t>(value);
  }
  return out;
}

std::string BackendNameOf(std::string_view name, std::string_view app, std::string_view url) {
  if (!name.empty()) return std::string(name);
  if (!app.empty()) return std::string(app);
  absl::StatusOr<BackendUrl> parsed = ParseBackendUrl(url);
  if (!parsed.ok()) return std::string(url);
  return absl::StrCat(parsed->host, ":", parsed->port);
}

}  // namespace valet
