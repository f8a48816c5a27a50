#include "dataplane/fanout/path_template.h"

namespace valet {
namespace {

void AppendEncoded(std::string_view value, bool in_query, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (!in_query && (value == "." || value == "..")) {
    for (size_t i = 0; i < value.size(); ++i) out->append("%2E");
    return;
  }
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    bool escape = u <= 0x20 || u >= 0x7f || c == '?' || c == '#' || c == '/' ||
                  (in_query && (c == '&' || c == '=' || c == '+'));
    if (in_query && c == '/') escape = false;  // A "/" in a query changes nothing.
    if (!escape) {
      out->push_back(c);
      continue;
    }
    out->push_back('%');
    out->push_back(kHex[u >> 4]);
    out->push_back(kHex[u & 0xf]);
  }
}

}  // namespace

std::string_view QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    size_t eq = param.find('=');
    if (param.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

void PathTemplate::Render(const PathParams& params, std::string_view request_path,
                          std::string_view request_query, std::string* path,
                          std::string* query) const {
  path->clear();
  query->clear();
  if (pieces_.empty()) {
    path->assign(request_path.empty() ? std::string_view("/") : request_path);
    query->assign(request_query);
    return;
  }
  for (const TemplatePiece& piece : pieces_) {
    std::string* out = piece.in_query ? query : path;
    switch (piece.kind) {
      case TemplatePiece::Kind::kLiteral:
        out->append(piece.text);
        break;
      case TemplatePiece::Kind::kParam:
        for (const auto& [name, value] : params) {
          if (name == piece.text) {
            AppendEncoded(value, piece.in_query, out);
            break;
          }
        }
        break;
      case TemplatePiece::Kind::kQueryParam:
        AppendEncoded(QueryParam(request_query, piece.text), piece.in_query, out);
        break;
      case TemplatePiece::Kind::kWholeQuery:
        if (piece.in_query) {
          out->append(request_query);  // Already a query: passed as sent.
        } else {
          AppendEncoded(request_query, false, out);
        }
        break;
    }
  }
  // "?a=1&{query}" with no query would end in "&"; an empty value is harmless, a stray "&" too,
  // but keep targets tidy.
  while (!query->empty() && query->back() == '&') query->pop_back();
}

}  // namespace valet
