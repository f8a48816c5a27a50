#include "controlplane/rest_admin.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/app_config_json.h"
#include "common/control_answer_json.h"
#include "common/error_body.h"
#include "common/error_text.h"
#include "common/listen_address.h"
#include "common/logging.h"
#include "common/message_limits.h"
#include "common/string_view.h"
#include "common/validation_errors.h"
#include "controlplane/rest_auth.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace valet {
namespace {

// A PUT body is one app. The largest valid app (kMaxEndpointsPerApp endpoints, each with a path
// of kMaxEndpointPathBytes, and a description of kMaxDescriptionBytes) is about 2.5 MiB of
// JSON; 8 MiB leaves room for generous formatting and stays far below what the gRPC control
// API takes (kMaxGrpcMessageBytes). Answers are not bounded by this (a list of every app can
// reach kMaxSnapshotBytes).
constexpr size_t kMaxBodyBytes = 8 << 20;
static_assert(kMaxBodyBytes >=
                  kMaxEndpointsPerApp * (kMaxEndpointPathBytes + 512) + kMaxDescriptionBytes,
              "the REST admin must take a PUT of the largest valid app");
static_assert(kMaxBodyBytes <= kMaxGrpcMessageBytes);

AdminResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  return {status, RenderErrorBody({status, std::string(code), std::string(message)})};
}

// The status's code in snake_case; a refused config lists its errors as details.
AdminResponse ErrorResponse(const absl::Status& status) {
  ErrorBody body{HttpStatusForCode(status.code()), ErrorCodeName(status.code()),
                 std::string(status.message())};
  if (HasValidationErrors(status)) body.details = ValidationErrorsOf(status);
  return {body.status, RenderErrorBody(body)};
}

AdminResponse JsonResponse(const google::protobuf::Message& message, bool print_zero_fields) {
  absl::StatusOr<std::string> json =
      ControlAnswerToJson(message, {/*pretty=*/true, print_zero_fields});
  if (!json.ok()) return ErrorResponse(json.status());
  return {200, std::move(*json)};
}

template <typename T>
AdminResponse FromResult(const absl::StatusOr<T>& result, bool print_zero_fields) {
  if (!result.ok()) return ErrorResponse(result.status());
  return JsonResponse(*result, print_zero_fields);
}

// GET /v1/apps/{name}: the app in its conf-file form, which PUT (and `valetctl apply`) take back
// unchanged; the version it belongs to in the ETag.
AdminResponse AppResponse(const absl::StatusOr<v1::GetAppResponse>& result) {
  if (!result.ok()) return ErrorResponse(result.status());
  AdminResponse response{200, AppConfigToJson(result->app())};
  response.etag = absl::StrCat("\"", result->version(), "\"");
  return response;
}

struct Query {
  bool dry_run = false;
  uint64_t expected_version = 0;
  uint64_t version = 0;
  uint32_t timeout_ms = 0;
  std::string app;       // /v1/limits
  std::string consumer;  // /v1/limits
};

// A piece of the request quoted in an error: bounded, so that a long URL does not make a long
// answer.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxQuoted = 64;
  if (text.size() <= kMaxQuoted) return absl::StrCat("\"", AsAbsl(text), "\"");
  return absl::StrCat("\"", AsAbsl(text.substr(0, kMaxQuoted)), "...\" (", text.size(),
                      " characters)");
}

absl::StatusOr<uint64_t> ParseUint(std::string_view key, std::string_view value) {
  uint64_t v = 0;
  auto [end, err] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || err != std::errc() || end != value.data() + value.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query parameter ", AsAbsl(key), ": expected a number, got ", Quote(value)));
  }
  return v;
}

// Parses the query of a route that takes the parameters `allowed`. Refused (InvalidArgument):
// a parameter the route does not take, a bad value, and a parameter given twice (which of the
// two would count is a guess: "?dry_run=true&dry_run=false" must not delete for real).
absl::StatusOr<Query> ParseQuery(std::string_view query,
                                 std::initializer_list<std::string_view> allowed) {
  Query q;
  std::set<std::string, std::less<>> seen;
  for (absl::string_view part : absl::StrSplit(AsAbsl(query), '&', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    const std::string& key = kv.first;
    const std::string& value = kv.second;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      std::string takes = names.empty()
                              ? std::string("this route takes none")
                              : absl::StrCat("this route takes ", absl::StrJoin(names, ", "));
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter ", Quote(key), ": ", takes));
    }
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter ", key, " is given more than once; give it once"));
    }
    if (key == "dry_run") {
      if (value == "true" || value == "1" || value.empty()) {
        q.dry_run = true;
      } else if (value == "false" || value == "0") {
        q.dry_run = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter dry_run: expected true or false, got ", Quote(value)));
      }
    } else if (key == "app" || key == "consumer") {
      (key == "app" ? q.app : q.consumer) = value;
    } else {  // expected_version, version, timeout_ms: numbers.
      absl::StatusOr<uint64_t> v = ParseUint(key, value);
      if (!v.ok()) return v.status();
      if (key == "expected_version") q.expected_version = *v;
      if (key == "version") q.version = *v;
      if (key == "timeout_ms") {
        q.timeout_ms = static_cast<uint32_t>(std::min<uint64_t>(*v, 1u << 31));
      }
    }
  }
  return q;
}

// 405 with the methods the resource takes, as RFC 9110 asks of a 405.
AdminResponse MethodNotAllowed(const std::string& method, std::string_view path,
                               std::string_view allow) {
  AdminResponse response = ErrorResponse(
      405, "method_not_allowed",
      absl::StrCat(method, " is not allowed on ", AsAbsl(path), " (allowed: ", AsAbsl(allow), ")"));
  response.allow = std::string(allow);
  return response;
}

AdminResponse PutApp(ControlApi* api, const std::string& name, const std::string& body,
                     const Query& q) {
  absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(body, "request");
  if (!app.ok()) return ErrorResponse(app.status());
  if (app->name().empty()) {
    app->set_name(name);
  } else if (app->name() != name) {
    return ErrorResponse(ValidationFailed(
        {MakeValidationError("request", "name",
                             absl::StrCat(QuoteForError(app->name()), " does not match the path's ",
                                          QuoteForError(name)))}));
  }
  v1::ApplyAppsRequest request;
  *request.add_apps() = std::move(*app);
  request.set_dry_run(q.dry_run);
  request.set_expected_version(q.expected_version);
  return FromResult(api->ApplyApps(request, "request"), true);
}

// POST /v1/apps/{name}/mock with {"on": true|false}: SetMockMode.
AdminResponse PostMockMode(ControlApi* api, const std::string& name, const std::string& body,
                           const Query& q) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto refuse = [](std::string_view reason) {
    return ErrorResponse(ValidationFailed({MakeValidationError("request", "on", reason)}));
  };
  if (json.is_discarded() || !json.is_object()) {
    return ErrorResponse(400, "invalid_argument", "expected a JSON object: {\"on\": true}");
  }
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() != "on") {
      return ErrorResponse(400, "invalid_argument",
                           absl::StrCat("unknown field ", QuoteForError(it.key()),
                                        ": the body is {\"on\": true} or {\"on\": false}"));
    }
  }
  auto on = json.find("on");
  if (on == json.end()) return refuse("is required");
  if (!on->is_boolean()) return refuse("expected true or false");
  v1::SetMockModeRequest request;
  request.set_name(name);
  request.set_on(on->get<bool>());
  request.set_expected_version(q.expected_version);
  return FromResult(api->SetMockMode(request), true);
}

// POST /v1/apps/{name}/record with {"count": N, "timeoutMs": T}: RecordMocks. The answer comes
// when the answers came or at the timeout; a client that hangs up does not stop the recording
// (its mocks are stored, as for a cancelled gRPC call).
void PostRecord(ControlApi* api, const std::string& name, const std::string& body,
                AdminHttpServer::Done done) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return done(ErrorResponse(400, "invalid_argument",
                              "expected a JSON object: {\"count\": 3, \"timeoutMs\": 60000}"));
  }
  v1::RecordMocksRequest request;
  request.set_name(name);
  for (auto it = json.begin(); it != json.end(); ++it) {
    bool count = it.key() == "count";
    if (!count && it.key() != "timeoutMs") {
      return done(ErrorResponse(400, "invalid_argument",
                                absl::StrCat("unknown field ", QuoteForError(it.key()),
                                             ": the body is {\"count\": N, \"timeoutMs\": T}")));
    }
    if (!it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) {
      return done(ErrorResponse(ValidationFailed(
          {MakeValidationError("request", it.key(), "expected a non-negative whole number")})));
    }
    uint32_t value = it->get<uint32_t>();
    count ? request.set_count(value) : request.set_timeout_ms(value);
  }
  if (json.find("count") == json.end()) {
    return done(
        ErrorResponse(ValidationFailed({MakeValidationError("request", "count", "is required")})));
  }
  api->RecordMocks(request, [done](absl::StatusOr<v1::RecordMocksResponse> result) {
    done(FromResult(result, true));
  });
}

}  // namespace

// Answers now; nothing to cancel.
AdminHttpServer::Cancel Answer(const AdminHttpServer::Done& done, AdminResponse response) {
  done(std::move(response));
  return nullptr;
}

AdminHttpServer::Cancel HandleAdminRequest(ControlApi* api, const AdminRequest& request,
                                           AdminHttpServer::Done done) {
  std::string_view target = request.target;
  std::string_view path = target.substr(0, target.find('?'));
  std::string_view query =
      path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
  // HEAD is GET without the body (the server drops it) on every route but the long poll.
  const std::string m = request.method == "HEAD" && path != "/v1/wait" ? "GET" : request.method;
  constexpr std::string_view kAppsPrefix = "/v1/apps/";
  constexpr std::string_view kGet = "GET, HEAD";

  // A read-only route without parameters: GET (and HEAD) only, no query.
  auto read_only = [&](const std::function<AdminResponse()>& answer) {
    if (m != "GET") return Answer(done, MethodNotAllowed(m, path, kGet));
    absl::StatusOr<Query> q = ParseQuery(query, {});
    if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
    return Answer(done, answer());
  };

  if (path == "/v1/apps") {
    return read_only([&] { return JsonResponse(api->ListApps(), false); });
  }
  if (path.substr(0, kAppsPrefix.size()) == kAppsPrefix &&
      path.find('/', kAppsPrefix.size()) == std::string_view::npos &&
      path.size() > kAppsPrefix.size()) {
    std::string name(path.substr(kAppsPrefix.size()));
    if (m == "GET") {
      return read_only([&] {
        v1::GetAppRequest r;
        r.set_name(name);
        return AppResponse(api->GetApp(r));
      });
    }
    if (m != "PUT" && m != "DELETE") {
      return Answer(done, MethodNotAllowed(m, path, "GET, HEAD, PUT, DELETE"));
    }
    absl::StatusOr<Query> q = ParseQuery(query, {"dry_run", "expected_version"});
    if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
    if (m == "PUT") return Answer(done, PutApp(api, name, request.body, *q));
    v1::DeleteAppRequest r;
    r.set_name(name);
    r.set_expected_version(q->expected_version);
    r.set_dry_run(q->dry_run);
    return Answer(done, FromResult(api->DeleteApp(r), true));
  }
  // /v1/apps/{name}/{action}: mock mode and recording.
  if (path.substr(0, kAppsPrefix.size()) == kAppsPrefix) {
    std::string_view rest = path.substr(kAppsPrefix.size());
    size_t slash = rest.find('/');
    std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (slash != 0 && slash != std::string_view::npos && (action == "mock" || action == "record")) {
      std::string name(rest.substr(0, slash));
      if (m != "POST") return Answer(done, MethodNotAllowed(m, path, "POST"));
      if (action == "record") {
        if (absl::Status s = ParseQuery(query, {}).status(); !s.ok()) {
          return Answer(done, ErrorResponse(s));
        }
        PostRecord(api, name, request.body, std::move(done));
        return nullptr;
      }
      absl::StatusOr<Query> q = ParseQuery(query, {"expected_version"});
      if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
      return Answer(done, PostMockMode(api, name, request.body, *q));
    }
  }
  if (path == "/v1/reload") {
    if (m != "POST") return Answer(done, MethodNotAllowed(m, path, "POST"));
    absl::StatusOr<Query> q = ParseQuery(query, {});
    if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
    return Answer(done, FromResult(api->Reload(), true));
  }
  if (path == "/v1/dataplanes") {
    return read_only([&] { return JsonResponse(api->ListDataPlanes(), true); });
  }
  if (path == "/v1/limits") {
    if (m != "GET") return Answer(done, MethodNotAllowed(m, path, kGet));
    absl::StatusOr<Query> q = ParseQuery(query, {"app", "consumer"});
    if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
    v1::GetLimitsRequest r;
    r.set_app(q->app);
    r.set_consumer(q->consumer);
    return Answer(done, FromResult(api->GetLimits(r), true));
  }
  if (path == "/v1/version") {
    return read_only([&] { return JsonResponse(api->GetVersion(), true); });
  }
  if (path == "/v1/wait") {
    if (m != "GET") return Answer(done, MethodNotAllowed(m, path, "GET"));
    absl::StatusOr<Query> q = ParseQuery(query, {"version", "timeout_ms"});
    if (!q.ok()) return Answer(done, ErrorResponse(q.status()));
    v1::WaitForVersionRequest r;
    r.set_version(q->version);
    r.set_timeout_ms(q->timeout_ms);
    uint64_t wait_id = api->WaitForVersion(
        r, [done = std::move(done)](absl::StatusOr<v1::WaitForVersionResponse> result) {
          done(FromResult(result, true));
        });
    if (wait_id == 0) return nullptr;
    // A client that hangs up ends its wait (else it would hold a connection and a waiter until
    // the timeout). CancelWait answers nobody; the dropped `done` is never called.
    return [api, wait_id] { api->registry()->CancelWait(wait_id); };
  }
  return Answer(done,
                ErrorResponse(404, "not_found", absl::StrCat("no such resource: ", Quote(path))));
}

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kOutOfRange:
      return 413;  // The change would make too large a snapshot.
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

RestAdmin::RestAdmin(std::unique_ptr<AdminHttpServer> server) : server_(std::move(server)) {}

absl::StatusOr<std::unique_ptr<RestAdmin>> RestAdmin::Start(ControlApi* api,
                                                            const std::string& listen,
                                                            const TokenAuth* tokens) {
  AdminHttpServer::Options options;
  options.server_name = "valet-controlplane";
  options.max_body_bytes = kMaxBodyBytes;
  absl::StatusOr<std::unique_ptr<AdminHttpServer>> server = AdminHttpServer::Start(
      listen, options, [api, tokens](const AdminRequest& request, auto done) {
        if (tokens != nullptr) {
          if (std::optional<AdminResponse> refused = RefuseRestRequest(*tokens, request)) {
            return Answer(done, std::move(*refused));
          }
        }
        return HandleAdminRequest(api, request, std::move(done));
      });
  if (!server.ok()) return server.status();
  return std::unique_ptr<RestAdmin>(new RestAdmin(std::move(*server)));
}

std::string RestAdmin::bound_address() const { return FormatAddress(server_->local_endpoint()); }

void RestAdmin::Stop() { server_->Stop(); }

}  // namespace valet
