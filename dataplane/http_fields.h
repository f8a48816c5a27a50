// What an intermediary must do to header fields (RFC 9110 section 7.6, RFC 9112 section 6).
#ifndef VALET_DATAPLANE_HTTP_FIELDS_H_
#define VALET_DATAPLANE_HTTP_FIELDS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "boost/beast/http/fields.hpp"

namespace valet {

// RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; an HTTP/1.0 one at most one.
absl::Status CheckHost(const boost::beast::http::fields& fields, unsigned version);

// Removes hop-by-hop fields, those named in Connection included, and the framing fields
// (Content-Length, Transfer-Encoding), which the caller sets again for the next hop.
void StripHopByHop(boost::beast::http::fields& fields);

// The protocol an HTTP/1.1 request asks to switch to (RFC 9110 7.8: an Upgrade field and the
// "upgrade" token in Connection), if the gateway passes the switch on: every protocol but h2c
// (HTTP/2 over cleartext is a hop-by-hop choice the gateway does not make for its backends).
std::optional<std::string> RequestedUpgrade(const boost::beast::http::fields& fields,
                                            unsigned version);

// Appends `client_ip` to X-Forwarded-For and sets X-Forwarded-Proto and X-Forwarded-Host
// (from Host, before the caller rewrites Host).
void SetForwardedFields(boost::beast::http::fields& fields, std::string_view client_ip,
                        std::string_view proto);

}  // namespace valet

#endif  // VALET_DATAPLANE_HTTP_FIELDS_H_
