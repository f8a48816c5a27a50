// Host names against certificate DNS names (RFC 6125): case-insensitive, a trailing dot
// ignored, and a wildcard only as the whole left-most label ("*.example.com" matches
// "a.example.com", not "example.com" nor "a.b.example.com").
#ifndef VALET_DATAPLANE_TLS_DNS_NAME_MATCH_H_
#define VALET_DATAPLANE_TLS_DNS_NAME_MATCH_H_

#include <string_view>

namespace valet {

bool DnsNameMatches(std::string_view pattern, std::string_view host);

}  // namespace valet

#endif  // VALET_DATAPLANE_TLS_DNS_NAME_MATCH_H_
