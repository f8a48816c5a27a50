// Turns the answers of a fan-out request's legs into the client's answer (docs/fanout.md):
//
//   - every required leg answered 2xx with JSON: 200 and the merged object. An ungrouped leg's
//     object is merged into the top level; a grouped leg's answer (any JSON value) sits under its
//     group key, and legs of one group merge their objects there.
//   - a key two answers both hold follows the route's policy: kError answers 502 naming the keys
//     and backends, kFirst keeps the first leg's value (config order), kLast the last one's.
//   - an optional leg that failed is reported, never dropped silently: in the body as
//     "_valet": {"missing": [{"backend": NAME, "reason": REASON}, ...]} and in the header
//     X-Valet-Missing: NAME=REASON, ...
//   - a required leg that failed: 504 (timeout) or 502, naming it (the first in config order).
//
// Pure functions of their input: no I/O, no clock. nlohmann::json is used without exceptions.
#ifndef VALET_DATAPLANE_FANOUT_MERGER_H_
#define VALET_DATAPLANE_FANOUT_MERGER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/gateway_error.h"
#include "dataplane/metrics.h"
#include "nlohmann/json.hpp"

namespace valet {

using LegJson = nlohmann::ordered_json;

enum class CollisionPolicy { kError, kFirst, kLast };

// A leg answer nested deeper than this is not JSON the gateway merges.
inline constexpr size_t kMaxLegJsonDepth = 64;

// How a leg ended, as the merger needs it.
struct LegReport {
  std::string_view backend;  // Its name.
  std::string_view group;    // "" for the top level.
  bool required = true;
  LegOutcome outcome = LegOutcome::kOk;
  std::string detail;  // Why it failed, for people ("status 503", "connection refused").
  LegJson value;       // kOk: the parsed answer.
};

// Parses a 2xx leg answer into `out`: kOk, or kNotJson (with `detail`) if the body is not JSON,
// nests deeper than kMaxLegJsonDepth, or (`grouped` false) is not an object. An empty body is
// an empty object.
LegOutcome ParseLegAnswer(std::string_view body, bool grouped, LegJson* out, std::string* detail);

struct MergedAnswer {
  std::optional<GatewayError> error;  // Set: answer with this error instead.
  std::string body;                   // The merged JSON object.
  std::string missing_header;         // X-Valet-Missing; empty when nothing is missing.
};

// `legs` in config order; their values are moved from.
MergedAnswer MergeLegs(std::vector<LegReport>& legs, CollisionPolicy policy);

// The reason word of a failed leg in "_valet.missing" and X-Valet-Missing.
std::string_view MissingReason(LegOutcome outcome);

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_MERGER_H_
