// Request framing that a server or an intermediary must refuse (RFC 9112 section 6): where two
// readers of the same bytes could disagree on where a message ends (request smuggling). Used by
// the data plane's proxy port and by the admin HTTP server of both planes.
#ifndef VALET_COMMON_HTTP_FRAMING_H_
#define VALET_COMMON_HTTP_FRAMING_H_

#include "absl/status/status.h"
#include "boost/beast/http/fields.hpp"

namespace valet {

// Refuses ambiguous message framing: more than one Content-Length (even equal ones), a list or
// anything but digits in Content-Length, Content-Length together with Transfer-Encoding, and any
// Transfer-Encoding other than a single "chunked". The reasons never quote the request's bytes.
absl::Status CheckFraming(const boost::beast::http::fields& fields);

}  // namespace valet

#endif  // VALET_COMMON_HTTP_FRAMING_H_
