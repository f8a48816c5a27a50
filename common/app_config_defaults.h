// Defaults for the fields of valet.v1.AppConfig whose zero value means "default".
// docs/config.md documents the same numbers; keep them in step.
#ifndef VALET_COMMON_APP_CONFIG_DEFAULTS_H_
#define VALET_COMMON_APP_CONFIG_DEFAULTS_H_

#include <cstdint>
#include <string_view>

#include "valet/v1/config.pb.h"

namespace valet {

inline constexpr std::string_view kDefaultAuthHeader = "X-Valet-Auth";
// The header that carries the authenticated consumer's name to the backend.
inline constexpr std::string_view kConsumerHeader = "X-Valet-Consumer";
inline constexpr uint32_t kDefaultLimitPeriodSeconds = 60;
inline constexpr std::string_view kDefaultScheme = "http";
inline constexpr uint32_t kDefaultEndpointWeight = 1;
inline constexpr uint32_t kMaxEndpointWeight = 1000;
inline constexpr std::string_view kBalancingLeastRequest = "least_request";
inline constexpr std::string_view kBalancingRoundRobin = "round_robin";
inline constexpr uint32_t kDefaultConnectTimeoutMs = 1000;
inline constexpr uint32_t kDefaultRequestTimeoutMs = 15000;
inline constexpr uint32_t kMaxTimeoutMs = 3600 * 1000;
inline constexpr size_t kMaxAppNameLength = 64;
// A fan-out route's policy for a key two answers both hold.
inline constexpr std::string_view kCollisionError = "error";
inline constexpr std::string_view kCollisionFirst = "first";
inline constexpr std::string_view kCollisionLast = "last";

// Accessors that apply the defaults above.
inline std::string_view AuthHeaderOf(const v1::AppConfig& app) {
  return app.auth_header().empty() ? kDefaultAuthHeader : std::string_view(app.auth_header());
}
inline uint32_t LimitPeriodSecondsOf(const v1::AppConfig& app) {
  return app.limit_period_seconds() == 0 ? kDefaultLimitPeriodSeconds : app.limit_period_seconds();
}
inline std::string_view BalancingOf(const v1::AppConfig& app) {
  return app.balancing().empty() ? kBalancingLeastRequest : std::string_view(app.balancing());
}
inline uint32_t ConnectTimeoutMsOf(const v1::AppConfig& app) {
  return app.connect_timeout_ms() == 0 ? kDefaultConnectTimeoutMs : app.connect_timeout_ms();
}
inline uint32_t RequestTimeoutMsOf(const v1::AppConfig& app) {
  return app.request_timeout_ms() == 0 ? kDefaultRequestTimeoutMs : app.request_timeout_ms();
}
inline std::string_view CollisionOf(const v1::Route& route) {
  return route.collision().empty() ? kCollisionError : std::string_view(route.collision());
}
// A backend of a route is required unless it says "required": false.
inline bool RequiredOf(const v1::RouteBackend& backend) {
  return !backend.has_required() || backend.required();
}
inline uint32_t WeightOf(const v1::Endpoint& ep) {
  return ep.weight() == 0 ? kDefaultEndpointWeight : ep.weight();
}

}  // namespace valet

#endif  // VALET_COMMON_APP_CONFIG_DEFAULTS_H_
