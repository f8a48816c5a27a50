// mock on NAME, mock off NAME [--wait] [--expected-version N]; mock list NAME;
// mock record NAME --count N [--record-timeout DUR] [--wait].
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "valetctl/ack_wait.h"
#include "valetctl/app_name_arg.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int SetMockMode(const Invocation& inv, CommandEnv& env, bool on) {
  const std::string what = absl::StrCat("mock ", on ? "on" : "off");
  if (!CheckAppNameArg(what, inv.args[0], env.err())) return kExitUsage;
  v1::SetMockModeRequest request;
  request.set_name(inv.args[0]);
  request.set_on(on);
  if (inv.Has("expected-version")) {
    uint64_t expected = 0;
    if (!absl::SimpleAtoi(inv.Value("expected-version"), &expected)) {
      env.err() << "error: " << what << ": --expected-version must be a version number, got \""
                << inv.Value("expected-version") << "\"\n";
      return kExitUsage;
    }
    request.set_expected_version(expected);
  }
  ControlConnection& conn = env.connection();
  std::unique_ptr<grpc::ClientContext> context = conn.NewContext();
  if (!conn.ConnectForChange(context->deadline(), env.err())) return kExitUnreachable;
  v1::SetMockModeResponse response;
  grpc::Status status = conn.stub().SetMockMode(context.get(), request, &response);
  if (!status.ok()) {
    return conn.ReportError(status, what + " " + inv.args[0], env.err(), nullptr,
                            /*mutation=*/true);
  }
  std::string summary =
      response.changed() ? absl::StrCat("mock mode ", on ? "on" : "off", " for ", inv.args[0],
                                        ": version ", response.version(), "\n")
                         : absl::StrCat(inv.args[0], " already has mock mode ", on ? "on" : "off",
                                        ": nothing changed, version ", response.version(), "\n");
  if (!inv.Has("wait")) {
    env.Print(response, summary);
    return kExitOk;
  }
  if (env.global().output == OutputFormat::kTable) env.out() << summary << std::flush;
  return WaitAndReport(env, response.version(), what);
}

int ListMocks(const Invocation& inv, CommandEnv& env) {
  if (!CheckAppNameArg("mock list", inv.args[0], env.err())) return kExitUsage;
  ControlConnection& conn = env.connection();
  v1::GetAppRequest request;
  request.set_name(inv.args[0]);
  v1::GetAppResponse response;
  grpc::Status status = conn.stub().GetApp(conn.NewContext().get(), request, &response);
  if (!status.ok()) return conn.ReportError(status, "mock list " + inv.args[0], env.err());
  v1::MockList list;
  list.set_version(response.version());
  list.set_app(response.app().name());
  list.set_mock_mode(response.app().mock_mode());
  list.set_mock_header(response.app().mock_header());
  *list.mutable_mocks() = response.app().mocks();
  env.Print(list, RenderMocksTable(list));
  return kExitOk;
}

int RecordMocks(const Invocation& inv, CommandEnv& env) {
  if (!CheckAppNameArg("mock record", inv.args[0], env.err())) return kExitUsage;
  uint32_t count = 0;
  if (!absl::SimpleAtoi(inv.Value("count"), &count) || count < 1 || count > 256) {
    env.err() << "error: mock record: --count must be 1..256, got \"" << inv.Value("count")
              << "\"\n";
    return kExitUsage;
  }
  absl::Duration record_timeout = absl::Seconds(60);
  if (inv.Has("record-timeout")) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(inv.Value("record-timeout"));
    if (!d.ok() || *d <= absl::ZeroDuration() || *d > absl::Minutes(10)) {
      env.err() << "error: mock record: --record-timeout must be a duration up to 10m, got \""
                << inv.Value("record-timeout") << "\"\n";
      return kExitUsage;
    }
    record_timeout = *d;
  }
  v1::RecordMocksRequest request;
  request.set_name(inv.args[0]);
  request.set_count(count);
  request.set_timeout_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(record_timeout)));
  ControlConnection& conn = env.connection();
  // The call lasts as long as the recording: its deadline is --timeout past the recording's.
  std::unique_ptr<grpc::ClientContext> context = conn.NewContext(record_timeout);
  if (!conn.ConnectForChange(context->deadline(), env.err())) return kExitUnreachable;
  v1::RecordMocksResponse response;
  grpc::Status status = conn.stub().RecordMocks(context.get(), request, &response);
  if (!status.ok()) {
    return conn.ReportError(status, "mock record " + inv.args[0], env.err(), nullptr,
                            /*mutation=*/true);
  }
  std::string summary = absl::StrCat(
      "recorded ", response.recorded(), " of ", count, " answers of ", inv.args[0], " on ",
      response.dataplanes(), " data plane", response.dataplanes() == 1 ? "" : "s",
      response.skipped() > 0
          ? absl::StrCat(" (", response.skipped(), " skipped: not text or over 64 KiB)")
          : "",
      response.complete() ? "" : " before the recording timed out",
      response.recorded() > 0 ? absl::StrCat(": stored as mocks, version ", response.version())
                              : ": nothing stored",
      "\n");
  if (!inv.Has("wait") || response.recorded() == 0) {
    env.Print(response, summary);
    return response.complete() ? kExitOk : kExitRefused;
  }
  if (env.global().output == OutputFormat::kTable) env.out() << summary << std::flush;
  return WaitAndReport(env, response.version(), "mock record");
}

CommandSpec SwitchCommand(bool on) {
  CommandSpec c;
  c.path = {"mock", on ? "on" : "off"};
  c.args_usage = "NAME";
  c.summary = on ? "Put an app in mock mode: every request answers from its mocks."
                 : "Take an app out of mock mode: requests go to its backends again.";
  c.details =
      "A versioned change like `apply`: the app's conf file gets \"mockMode\", every data plane\n"
      "gets the new version, `watch` shows it. Nothing changes if the app is already in that\n"
      "mode. See docs/mocks.md.";
  c.flags = {
      {"wait", 0, "", "wait until every data plane ACKed the new version (bounded by --timeout)"},
      {"expected-version", 0, "N", "refuse unless the control plane is at version N"},
  };
  c.min_args = c.max_args = 1;
  c.handler = [on](const Invocation& inv, CommandEnv& env) { return SetMockMode(inv, env, on); };
  return c;
}

}  // namespace

std::vector<CommandSpec> MockCommands() {
  CommandSpec list;
  list.path = {"mock", "list"};
  list.args_usage = "NAME";
  list.summary = "Show an app's mocks and whether it answers from them.";
  list.details =
      "Columns: METHOD, PATH, STATUS, BODY (json or text, and its size), HEADERS (names),\n"
      "DELAY; in config order, the order they are matched in. -o json prints every field,\n"
      "bodies included.";
  list.min_args = list.max_args = 1;
  list.handler = ListMocks;
  CommandSpec record;
  record.path = {"mock", "record"};
  record.args_usage = "NAME";
  record.summary = "Record an app's next answers from its backends and store them as its mocks.";
  record.details =
      "Every attached data plane captures the app's next proxied answers (method, path, status,\n"
      "content headers, body up to 64 KiB; never credentials or cookies) until COUNT came or\n"
      "--record-timeout passed; the control plane stores them as the app's mocks (a recorded\n"
      "mock replaces the app's mock for the same method and path): a versioned change, ready for\n"
      "`valetctl mock on NAME`. Exit 1 if fewer than COUNT came (those that came are stored).";
  record.flags = {
      {"count", 0, "N", "answers to record, 1..256", /*required=*/true},
      {"record-timeout", 0, "DUR", "stop waiting after DUR (default 60s, at most 10m)"},
      {"wait", 0, "", "then wait until every data plane ACKed the new version"},
  };
  record.min_args = record.max_args = 1;
  record.handler = RecordMocks;
  return {SwitchCommand(true), SwitchCommand(false), std::move(list), std::move(record)};
}

}  // namespace valet::ctl
