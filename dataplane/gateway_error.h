// Answers the gateway makes itself: JSON bodies in the one error shape (common/error_body.h)
//   {"error": {"status": 502, "code": "upstream_unreachable", "message": "...", "app": "shop"}}
#ifndef VALET_DATAPLANE_GATEWAY_ERROR_H_
#define VALET_DATAPLANE_GATEWAY_ERROR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "boost/beast/http/message.hpp"
#include "boost/beast/http/string_body.hpp"

namespace valet {

struct GatewayError {
  int status;
  std::string_view code;  // Stable, machine-readable: "unknown_app", "upstream_timeout", ...
  std::string message;    // For people.
};

// The canned errors of the request path.
namespace errors {
GatewayError BadRequest(std::string message);
GatewayError HeaderTooLarge();
GatewayError BodyTooLarge();
GatewayError RequestTimeout();
GatewayError UnknownApp(std::string_view app);
GatewayError UpstreamUnreachable(std::string_view detail);
// The TLS handshake with a backend of scheme https failed (certificate not trusted, wrong name).
GatewayError BackendTlsFailed(std::string_view detail);
GatewayError UpstreamReset();
GatewayError BadUpstreamResponse(std::string_view detail);
GatewayError UpstreamOverloaded(std::string_view detail);
GatewayError UpstreamTimeout();
GatewayError NotReady();
// `header`: the app's credential header (its name only: a key never goes into an answer).
GatewayError MissingCredentials(std::string_view header);
GatewayError InvalidCredentials(std::string_view header);
// 429: a rate-limit budget (`budget`: "app" or "consumer") of `limit` requests per
// `period_seconds` is spent for the current window.
GatewayError RateLimited(uint32_t limit, int64_t period_seconds, std::string_view budget);
// Fan-out (docs/fanout.md): a required backend failed or timed out; two answers hold one key
// under the route's "error" policy.
GatewayError FanoutBackendFailed(std::string_view backend, std::string_view why);
GatewayError FanoutBackendTimeout(std::string_view backend, std::string_view why);
GatewayError FanoutKeyCollision(std::string_view detail);
}  // namespace errors

// Builds the response; `app` may be empty (then "app" is omitted).
boost::beast::http::response<boost::beast::http::string_body> MakeErrorResponse(
    const GatewayError& error, std::string_view app, bool keep_alive);

}  // namespace valet

#endif  // VALET_DATAPLANE_GATEWAY_ERROR_H_
