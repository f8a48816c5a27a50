#include "dataplane/tls/dns_name_match.h"

#include "absl/strings/match.h"

namespace valet {

namespace {

std::string_view WithoutTrailingDot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(absl::string_view(a.data(), a.size()),
                                absl::string_view(b.data(), b.size()));
}

}  // namespace

bool DnsNameMatches(std::string_view pattern, std::string_view host) {
  pattern = WithoutTrailingDot(pattern);
  host = WithoutTrailingDot(host);
  if (pattern.empty() || host.empty()) return false;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    // A wildcard needs two labels after it ("*.com" matches nothing).
    if (suffix.find('.', 1) == std::string_view::npos) return false;
    size_t dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return EqualsIgnoreCase(host.substr(dot), suffix);
  }
  return EqualsIgnoreCase(pattern, host);
}

}  // namespace valet
