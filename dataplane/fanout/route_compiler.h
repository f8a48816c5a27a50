// Builds an app's route table (route_table.h) from its config, at snapshot compile time.
#ifndef VALET_DATAPLANE_FANOUT_ROUTE_COMPILER_H_
#define VALET_DATAPLANE_FANOUT_ROUTE_COMPILER_H_

#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "dataplane/fanout/route_table.h"
#include "dataplane/metrics.h"
#include "dataplane/snapshot.h"
#include "valet/v1/config.pb.h"

namespace valet {

// The routes of `config` (validated), for the app `self` (compiled but for its routes and
// pipeline). `find` looks up another app of the snapshot being built; the apps it returns must
// live as long as the table. Null when the app has no routes.
absl::StatusOr<std::shared_ptr<const RouteTable>> CompileRoutes(
    const v1::AppConfig& config, const AppRoute& self,
    const std::function<const AppRoute*(std::string_view)>& find, Metrics& metrics);

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_ROUTE_COMPILER_H_
