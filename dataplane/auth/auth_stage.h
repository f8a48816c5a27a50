// The auth stage of an app with `authorize: true` (docs/dataplane.md, "Request path"): the
// request's credential header must carry a key of the app, or the request is answered 401 here
// (missing_credentials, invalid_credentials) and counted in valet_auth_failures_total.
//
// On success the stage sets exchange.consumer and rewrites the request for the backend: the
// credential header is removed (unless forwardAuthHeader), a client-sent X-Valet-Consumer is
// removed, and X-Valet-Consumer names the consumer when it has a name (the anonymous authKey
// consumer adds none). Apps without authorize have no auth stage at all.
//
// Immutable; Run is called on worker threads and never blocks. Keys never reach a log, a metric
// or an answer.
#ifndef VALET_DATAPLANE_AUTH_AUTH_STAGE_H_
#define VALET_DATAPLANE_AUTH_AUTH_STAGE_H_

#include <memory>
#include <string_view>

#include "dataplane/auth/credentials.h"
#include "dataplane/metrics.h"
#include "dataplane/pipeline/stage.h"

namespace valet {

class AuthStage : public Stage {
 public:
  AuthStage(std::shared_ptr<const AppCredentials> credentials, std::shared_ptr<AppStats> stats)
      : credentials_(std::move(credentials)), stats_(std::move(stats)) {}

  std::string_view name() const override { return "auth"; }
  StageResult Run(Exchange& exchange, Downstream& downstream) const override;

 private:
  StageResult Refuse(Exchange& exchange, AuthFailure why) const;

  const std::shared_ptr<const AppCredentials> credentials_;
  const std::shared_ptr<AppStats> stats_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_AUTH_AUTH_STAGE_H_
