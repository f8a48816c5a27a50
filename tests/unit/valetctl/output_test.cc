// valetctl's table and JSON rendering, and the mapping of call failures to exit codes.
#include "valetctl/output.h"

#include "common/app_config_json.h"
#include "common/validation_errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "valetctl/cli.h"
#include "valetctl/control_connection.h"

namespace valet::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

v1::AppConfig App(const std::string& name, int endpoints) {
  v1::AppConfig app;
  app.set_name(name);
  for (int i = 0; i < endpoints; ++i) {
    v1::Endpoint* ep = app.add_endpoints();
    ep->set_host("backend");
    ep->set_port(9000 + i);
  }
  return app;
}

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  Table table({"NAME", "N", "DESCRIPTION"});
  table.AddRow({"a", "10", "first"});
  table.AddRow({"longer-name", "2", ""});
  table.AddRow({"x"});  // Padded.
  EXPECT_EQ(table.Render(),
            "NAME          N    DESCRIPTION\n"
            "a             10   first\n"
            "longer-name   2\n"
            "x\n");
}

TEST(TableTest, CellsAreOneLine) {
  Table table({"A", "B"});
  table.AddRow({"multi\nline", "tab\there"});
  EXPECT_EQ(table.Render(), "A            B\nmulti line   tab here\n");
}

TEST(JsonTest, ProtobufJsonMappingWithDefaults) {
  v1::GetVersionResponse version;
  version.set_version(7);
  EXPECT_EQ(ToJson(version), "{\n \"version\": \"7\"\n}\n");
  EXPECT_EQ(ToJson(version, /*pretty=*/false), "{\"version\":\"7\"}\n");

  v1::GetAppResponse get;
  *get.mutable_app() = App("userauth", 1);
  get.mutable_app()->set_auth_key("secret");
  std::string json = ToJson(get, false);
  EXPECT_THAT(json, HasSubstr("\"authKey\":\"secret\""));  // lowerCamel names.
  EXPECT_THAT(json, HasSubstr("\"rateLimit\":false"));     // Defaults printed.
  EXPECT_THAT(json, HasSubstr("\"version\":\"0\""));
}

// Apps inside an answer are in the one app config mapping (the conf-file form), not protobuf's:
// what `apps get -o json` prints, `apply -f` takes back unchanged.
TEST(JsonTest, AppsUseTheConfigMappingAndApplyBack) {
  v1::AppConfig app = App("userauth", 2);
  app.set_auth_key("secret");
  std::string json = ToJson(app);
  EXPECT_EQ(json, AppConfigToJson(app));
  EXPECT_THAT(json, Not(HasSubstr("limitPeriodSeconds")));  // Zero: left out, as in files.
  absl::StatusOr<v1::AppConfig> back = ParseAppConfigJson(json, "out.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), app.SerializeAsString());

  v1::ListAppsResponse list;
  list.set_version(3);
  *list.add_apps() = app;
  std::string listed = ToJson(list, false);
  EXPECT_THAT(listed, HasSubstr("\"version\":\"3\""));
  EXPECT_THAT(listed, Not(HasSubstr("limitPeriodSeconds")));
  EXPECT_THAT(ToJson(v1::ListAppsResponse(), false), HasSubstr("\"apps\":[]"));
}

TEST(AppsTableTest, SortedByNameWithLimitsAndAuth) {
  v1::ListAppsResponse response;
  response.set_version(3);
  *response.add_apps() = App("zeta", 2);
  v1::AppConfig userauth = App("userauth", 1);
  userauth.set_authorize(true);
  userauth.set_auth_key("k");
  userauth.set_rate_limit(true);
  userauth.set_limit_value(2);
  userauth.set_description("service to authorize users");
  *response.add_apps() = userauth;
  EXPECT_EQ(RenderAppsTable(response),
            "NAME       ENDPOINTS   AUTH   RATE LIMIT   DESCRIPTION\n"
            "userauth   1           yes    2/60s        service to authorize users\n"
            "zeta       2           no     -\n");
}

TEST(AppsTableTest, EmptyListIsJustTheHeader) {
  EXPECT_EQ(RenderAppsTable({}), "NAME   ENDPOINTS   AUTH   RATE LIMIT   DESCRIPTION\n");
}

TEST(AppDetailsTest, ShowsDefaultsAndHidesTheKey) {
  v1::AppConfig app = App("userauth", 2);
  app.set_authorize(true);
  app.set_auth_key("thisismyauth");
  app.mutable_endpoints(1)->set_weight(5);
  app.mutable_endpoints(1)->set_path("/api");
  std::string text = RenderAppDetails(app);
  EXPECT_THAT(text, Not(HasSubstr("thisismyauth")));
  EXPECT_THAT(text, HasSubstr("authKey            (set, hidden; see -o json)\n"));
  EXPECT_THAT(text, HasSubstr("authHeader         X-Valet-Auth\n"));
  EXPECT_THAT(text, HasSubstr("balancing          least_request\n"));
  EXPECT_THAT(text, HasSubstr("requestTimeoutMs   15000\n"));
  EXPECT_THAT(text, HasSubstr("endpoints[0]       http://backend:9000\n"));
  EXPECT_THAT(text, HasSubstr("endpoints[1]       http://backend:9001/api (weight 5)\n"));
}

TEST(LimitsTableTest, OneRowPerBudget) {
  v1::GetLimitsResponse response;
  v1::LimitStatus* app = response.add_limits();
  app->set_app("shop");
  app->set_limit(100);
  app->set_period_seconds(60);
  app->set_used(40);
  app->set_remaining(60);
  app->set_reset_seconds(12);
  app->set_refused(0);
  app->set_refused_last_window(7);
  v1::LimitStatus* alice = response.add_limits();
  alice->set_app("shop");
  alice->set_consumer("alice");
  alice->set_for_consumer(true);
  alice->set_limit(5);
  alice->set_period_seconds(10);
  alice->set_used(5);
  alice->set_reset_seconds(3);
  alice->set_refused(2);
  EXPECT_EQ(RenderLimitsTable(response),
            "APP    CONSUMER   LIMIT     USED   REMAINING   RESET   REFUSED   REFUSED LAST\n"
            "shop   -          100/60s   40     60          12s     0         7\n"
            "shop   alice      5/10s     5      0           3s      2         0\n");
  EXPECT_EQ(RenderLimitsTable(v1::GetLimitsResponse()), "no rate-limited app\n");
}

TEST(DataPlanesTableTest, StatesAndNacks) {
  v1::ListDataPlanesResponse response;
  response.set_version(5);
  v1::DataPlaneStatus* a = response.add_dataplanes();
  a->set_id("dp-a");
  a->set_address("127.0.0.1:8000");
  a->set_connected(true);
  a->set_version(5);
  a->mutable_connected_since()->set_seconds(1767225600);  // 2026-01-01T00:00:00Z
  a->mutable_last_report_time()->set_seconds(1767225604);
  a->set_last_report_age_ms(4200);
  a->mutable_last_report()->set_requests(120);
  a->mutable_last_report()->set_errors(3);
  v1::DataPlaneStatus* b = response.add_dataplanes();
  b->set_id("dp-b");
  b->set_address("127.0.0.1:8001");
  b->set_connected(true);
  b->set_version(4);
  b->set_last_nack_version(5);
  b->set_last_nack_reason("apps[0]: bad\nthing");
  EXPECT_EQ(RenderDataplanesTable(response),
            "control plane version 5\n"
            "ID     ADDRESS          STATE     VERSION   CONNECTED SINCE        LAST REPORT   "
            "REQUESTS   ERRORS   LAST NACK\n"
            "dp-a   127.0.0.1:8000   in sync   5         2026-01-01T00:00:00Z   4s ago        "
            "120        3        -\n"
            "dp-b   127.0.0.1:8001   behind    4         -                      -             "
            "-          -        version 5: apps[0]: bad thing\n");
  EXPECT_EQ(RenderDataplanesTable(v1::ListDataPlanesResponse()),
            "control plane version 0\nno data plane attached\n");
}

TEST(VersionEventTest, OneLine) {
  v1::VersionEvent event;
  event.set_version(9);
  EXPECT_EQ(RenderVersionEvent(event), "version 9");
  event.add_changed_apps("a");
  event.add_changed_apps("b");
  event.add_deleted_apps("c");
  EXPECT_EQ(RenderVersionEvent(event), "version 9  changed: a, b  deleted: c");
}

TEST(VersionEventTest, ManyAppsAreSummarised) {
  v1::VersionEvent event;
  event.set_version(9);
  for (int i = 0; i < 2000; ++i) event.add_changed_apps("app" + std::to_string(i));
  event.add_deleted_apps("gone");
  EXPECT_EQ(RenderVersionEvent(event),
            "version 9  changed: app0, app1, app2, app3, app4 and 1995 more  deleted: gone");
}

TEST(SummariseNamesTest, AFewNamesThenACount) {
  EXPECT_EQ(SummariseNames({}), "");
  EXPECT_EQ(SummariseNames({"a"}), "a");
  EXPECT_EQ(SummariseNames({"a", "b", "c", "d", "e"}), "a, b, c, d, e");
  EXPECT_EQ(SummariseNames({"a", "b", "c", "d", "e", "f"}), "a, b, c, d, e and 1 more");
  std::vector<std::string> many(2000, std::string(8, 'n'));
  EXPECT_LT(SummariseNames(many).size(), 80u);
}

TEST(WaitResultTest, SummaryAndProblems) {
  v1::WaitForVersionResponse response;
  response.set_version(4);
  response.set_complete(true);
  EXPECT_EQ(WaitSummary(response), "version 4: no data plane attached");
  EXPECT_TRUE(WaitProblems(response).empty());

  response.add_acked()->set_id("dp-b");
  response.add_acked()->set_id("dp-a");
  EXPECT_EQ(WaitSummary(response), "version 4 ACKed by 2 data planes: dp-a, dp-b");

  v1::DataPlaneStatus* nacked = response.add_nacked();
  nacked->set_id("dp-c");
  nacked->set_address("127.0.0.1:8002");
  nacked->set_last_nack_version(4);
  nacked->set_last_nack_reason("cannot compile app x");
  v1::DataPlaneStatus* pending = response.add_pending();
  pending->set_id("dp-d");
  pending->set_version(3);
  response.set_complete(false);
  EXPECT_THAT(WaitProblems(response),
              ElementsAre("data plane dp-c (127.0.0.1:8002) NACKed version 4: cannot compile app x",
                          "data plane dp-d did not answer version 4 in time (serves version 3)"));
}

// A refusal carries its errors as data (status details); each becomes a line, whatever the
// message says.
TEST(StatusTest, ErrorLinesComeFromTheDetails) {
  absl::Status refused = ValidationFailed({MakeValidationError("apps[0]", "name", "is required"),
                                           MakeValidationError("apps[1]", "", "no endpoints")});
  grpc::Status status(grpc::StatusCode::INVALID_ARGUMENT, "a message nobody parses",
                      GrpcStatusDetails(refused));
  EXPECT_THAT(StatusErrorLines(status),
              ElementsAre("apps[0]: name: is required", "apps[1]: no endpoints"));
  std::vector<v1::ValidationError> errors = StatusValidationErrors(status);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].file(), "apps[0]");
  EXPECT_EQ(errors[0].path(), "name");
  EXPECT_EQ(errors[0].reason(), "is required");
}

TEST(StatusTest, ErrorLinesOnePerLine) {
  grpc::Status refused(grpc::StatusCode::INVALID_ARGUMENT,
                       "apps[0]: name: is required\napps[1]: endpoints: at least one\n");
  EXPECT_THAT(StatusErrorLines(refused),
              ElementsAre("apps[0]: name: is required", "apps[1]: endpoints: at least one"));
  EXPECT_THAT(StatusErrorLines(grpc::Status(grpc::StatusCode::INTERNAL, "")),
              ElementsAre("INTERNAL"));
}

TEST(StatusTest, ExitCodes) {
  using grpc::StatusCode;
  EXPECT_EQ(ExitCodeForStatus(grpc::Status::OK, true), kExitOk);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::UNAVAILABLE, ""), false), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::UNAVAILABLE, ""), true), kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::DEADLINE_EXCEEDED, ""), false),
            kExitUnreachable);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::DEADLINE_EXCEEDED, ""), true), kExitRefused);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::INVALID_ARGUMENT, ""), true), kExitRefused);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::FAILED_PRECONDITION, ""), true),
            kExitRefused);
  EXPECT_EQ(ExitCodeForStatus(grpc::Status(StatusCode::NOT_FOUND, ""), true), kExitRefused);
}

// A change that was sent: a refusal means nothing changed; anything else may have landed.
TEST(StatusTest, ExitCodesOfASentChange) {
  using grpc::StatusCode;
  EXPECT_EQ(ExitCodeForChange(grpc::Status::OK), kExitOk);
  for (StatusCode refused :
       {StatusCode::INVALID_ARGUMENT, StatusCode::NOT_FOUND, StatusCode::FAILED_PRECONDITION,
        StatusCode::RESOURCE_EXHAUSTED, StatusCode::PERMISSION_DENIED, StatusCode::UNAUTHENTICATED,
        StatusCode::UNIMPLEMENTED}) {
    EXPECT_EQ(ExitCodeForChange(grpc::Status(refused, "")), kExitRefused) << refused;
  }
  for (StatusCode unknown :
       {StatusCode::UNAVAILABLE, StatusCode::DEADLINE_EXCEEDED, StatusCode::CANCELLED,
        StatusCode::UNKNOWN, StatusCode::INTERNAL, StatusCode::ABORTED, StatusCode::DATA_LOSS}) {
    EXPECT_EQ(ExitCodeForChange(grpc::Status(unknown, "")), kExitOutcomeUnknown) << unknown;
  }
}

}  // namespace
}  // namespace valet::ctl
