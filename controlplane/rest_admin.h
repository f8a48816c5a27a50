// RestAdmin: the REST/JSON admin API on --http-listen, the same calls and errors as the gRPC
// control API (both go through ControlApi).
//
//   GET    /v1/apps                 ListAppsResponse
//   GET    /v1/apps/{name}          the app in conf-file form (what PUT takes back unchanged),
//                                   its version in the ETag ("7"). 404 if unknown
//   PUT    /v1/apps/{name}          body: the app in conf-file JSON form ("name" may be left out;
//                                   if given it must match the path). ApplyAppsResponse.
//   DELETE /v1/apps/{name}          DeleteAppResponse
//   POST   /v1/apps/{name}/mock     body {"on": true|false}: SetMockModeResponse
//   POST   /v1/apps/{name}/record   body {"count": N, "timeoutMs": T}: RecordMocksResponse, when
//                                   the answers came or at the timeout
//   POST   /v1/reload               ReloadResponse
//   GET    /v1/dataplanes           ListDataPlanesResponse
//   GET    /v1/version              GetVersionResponse
//   GET    /v1/wait?version=V&timeout_ms=T   WaitForVersionResponse
// PUT and DELETE take ?dry_run=true and ?expected_version=N. A query parameter the route does not
// take, a bad value and a parameter given twice are refused (400), never guessed at. Answers are
// protobuf's JSON mapping (camelCase names, uint64 as strings) with every app in the one app
// config mapping (common/control_answer_json.h); a PUT body is at most 8 MiB (413).
// Errors have the one shape of common/error_body.h:
//   {"error":{"status":N,"code":"invalid_argument","message":"...","details":[...]}}
// with HTTP 400 for invalid_argument (a refused config lists every {file, path, reason} in
// "details"), 404 not_found, 409 failed_precondition, 413 out_of_range (a change that would make
// too large a snapshot), 429 resource_exhausted, 503 unavailable, 405 method_not_allowed (with
// Allow), else 500. Malformed HTTP gets the admin
// server's 400, 414 or 431 (common/admin_http_server.h).
//
// Threading: one I/O thread of its own; handlers run on it (a change waits for the conf-dir write).
// Lifetime: `api` outlives the RestAdmin; Stop (or the destructor) closes the listener and every
// connection and joins the thread.
#ifndef VALET_CONTROLPLANE_REST_ADMIN_H_
#define VALET_CONTROLPLANE_REST_ADMIN_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/admin_http_server.h"
#include "common/token_auth.h"
#include "controlplane/control_api.h"

namespace valet {

// Handles one request; calls `done` exactly once, maybe before returning, maybe later from another
// thread (GET /v1/wait).
AdminHttpServer::Cancel HandleAdminRequest(ControlApi* api, const AdminRequest& request,
                                           AdminHttpServer::Done done);

class RestAdmin {
 public:
  // Binds `listen` ("HOST:PORT", ":PORT"; port 0 picks one) and starts serving. With `tokens`
  // (may be null; outlives the RestAdmin) every route checks the caller's token first
  // (controlplane/rest_auth.h).
  static absl::StatusOr<std::unique_ptr<RestAdmin>> Start(ControlApi* api,
                                                          const std::string& listen,
                                                          const TokenAuth* tokens = nullptr);
  RestAdmin(const RestAdmin&) = delete;
  RestAdmin& operator=(const RestAdmin&) = delete;

  // "HOST:PORT" actually bound.
  std::string bound_address() const;

  void Stop();

 private:
  explicit RestAdmin(std::unique_ptr<AdminHttpServer> server);

  std::unique_ptr<AdminHttpServer> server_;
};

// The HTTP status of an error status code (see the table above).
int HttpStatusForCode(absl::StatusCode code);

}  // namespace valet

#endif  // VALET_CONTROLPLANE_REST_ADMIN_H_
