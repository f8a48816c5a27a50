// A compiled fan-out route: the legs one matching request is sent as, and how their answers
// merge (merger.h). Part of the immutable snapshot (AppRoute::routes).
#ifndef VALET_DATAPLANE_FANOUT_FANOUT_ROUTE_H_
#define VALET_DATAPLANE_FANOUT_FANOUT_ROUTE_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/fanout/merger.h"
#include "dataplane/fanout/path_template.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"

namespace valet {

struct FanoutLeg {
  std::string name;   // In errors, X-Valet-Missing and metrics.
  std::string group;  // "" for the top level.
  bool required = true;
  std::chrono::milliseconds timeout{0};  // The whole leg: connect, send, answer.
  // Whose endpoints, balancing, pools and health serve the leg: another app of the snapshot, or
  // `own_app` (a URL backend: one endpoint, pooled and balanced like any other).
  const AppRoute* app = nullptr;
  std::unique_ptr<AppRoute> own_app;
  PathTemplate path;
  std::shared_ptr<FanoutLegStats> stats;
};

struct FanoutRoute {
  CollisionPolicy collision = CollisionPolicy::kError;
  std::vector<FanoutLeg> legs;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_FANOUT_ROUTE_H_
