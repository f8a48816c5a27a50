#include "dataplane/gateway_error.h"

#include "absl/strings/str_cat.h"
#include "common/error_body.h"
#include "common/string_view.h"

namespace valet {
namespace http = boost::beast::http;

namespace errors {
GatewayError BadRequest(std::string message) { return {400, "bad_request", std::move(message)}; }
GatewayError HeaderTooLarge() {
  return {431, "header_too_large", "the request header is larger than this gateway accepts"};
}
GatewayError BodyTooLarge() {
  return {413, "body_too_large", "the request body is larger than this gateway accepts"};
}
GatewayError RequestTimeout() {
  return {408, "request_timeout", "the request body stopped arriving"};
}
GatewayError UnknownApp(std::string_view app) {
  return {404, "unknown_app",
          app.empty() ? std::string("the path names no app: use /{app}/...")
                      : absl::StrCat("no app named \"", AsAbsl(app), "\"")};
}
GatewayError UpstreamUnreachable(std::string_view detail) {
  return {502, "upstream_unreachable",
          absl::StrCat("could not connect to a backend: ", AsAbsl(detail))};
}
GatewayError BackendTlsFailed(std::string_view detail) {
  return {502, "backend_tls_failed", absl::StrCat("TLS with the backend failed: ", AsAbsl(detail))};
}
GatewayError UpstreamReset() {
  return {502, "upstream_reset", "the backend closed the connection before answering"};
}
GatewayError BadUpstreamResponse(std::string_view detail) {
  return {502, "bad_upstream_response",
          absl::StrCat("the backend's answer is not valid HTTP: ", AsAbsl(detail))};
}
GatewayError UpstreamOverloaded(std::string_view detail) {
  return {503, "upstream_overloaded",
          absl::StrCat("the backend is at its connection limit: ", AsAbsl(detail))};
}
GatewayError UpstreamTimeout() {
  return {504, "upstream_timeout", "the backend did not answer in time"};
}
GatewayError NotReady() { return {503, "not_ready", "this gateway has no configuration yet"}; }
GatewayError MissingCredentials(std::string_view header) {
  return {401, "missing_credentials",
          absl::StrCat("this app needs a key in the ", AsAbsl(header), " header")};
}
GatewayError InvalidCredentials(std::string_view header) {
  return {401, "invalid_credentials",
          absl::StrCat("the key in the ", AsAbsl(header), " header is not valid for this app")};
}

GatewayError RateLimited(uint32_t limit, int64_t period_seconds, std::string_view budget) {
  return {429, "rate_limited",
          absl::StrCat("rate limit exceeded: this ", AsAbsl(budget), " may make ", limit,
                       limit == 1 ? " request" : " requests", " per ", period_seconds,
                       period_seconds == 1 ? " second" : " seconds")};
}

GatewayError FanoutBackendFailed(std::string_view backend, std::string_view why) {
  return {502, "fanout_backend_failed",
          absl::StrCat("required backend \"", AsAbsl(backend), "\" failed: ", AsAbsl(why))};
}
GatewayError FanoutBackendTimeout(std::string_view backend, std::string_view why) {
  return {504, "fanout_backend_timeout",
          absl::StrCat("required backend \"", AsAbsl(backend), "\" timed out: ", AsAbsl(why))};
}
GatewayError FanoutKeyCollision(std::string_view detail) {
  return {502, "fanout_key_collision", std::string(detail)};
}
}  // namespace errors

http::response<http::string_body> MakeErrorResponse(const GatewayError& error, std::string_view app,
                                                    bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(error.status), 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() =
      RenderErrorBody({error.status, std::string(error.code), error.message, std::string(app)});
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace valet
