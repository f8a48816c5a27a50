// delete NAME [--dry-run] [--wait] [--expected-version N]
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "valetctl/ack_wait.h"
#include "valetctl/app_name_arg.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int Delete(const Invocation& inv, CommandEnv& env) {
  const bool dry_run = inv.Has("dry-run");
  if (dry_run && inv.Has("wait")) {
    env.err() << "error: delete: --wait cannot be used with --dry-run (a dry run makes no "
                 "version)\n";
    return kExitUsage;
  }
  if (!CheckAppNameArg(dry_run ? "delete --dry-run" : "delete", inv.args[0], env.err())) {
    return kExitUsage;
  }
  v1::DeleteAppRequest request;
  request.set_name(inv.args[0]);
  request.set_dry_run(dry_run);
  if (inv.Has("expected-version")) {
    uint64_t expected = 0;
    if (!absl::SimpleAtoi(inv.Value("expected-version"), &expected)) {
      env.err() << "error: delete: --expected-version must be a version number, got \""
                << inv.Value("expected-version") << "\"\n";
      return kExitUsage;
    }
    request.set_expected_version(expected);
  }
  ControlConnection& conn = env.connection();
  std::unique_ptr<grpc::ClientContext> context = conn.NewContext();
  if (!dry_run && !conn.ConnectForChange(context->deadline(), env.err())) return kExitUnreachable;
  v1::DeleteAppResponse response;
  grpc::Status status = conn.stub().DeleteApp(context.get(), request, &response);
  if (!status.ok()) {
    return conn.ReportError(status, (dry_run ? "delete --dry-run " : "delete ") + inv.args[0],
                            env.err(), nullptr, /*mutation=*/!dry_run);
  }
  std::string summary =
      dry_run ? absl::StrCat("dry run: ", inv.args[0], " can be deleted; nothing changed, version ",
                             response.version(), "\n")
              : absl::StrCat("deleted ", inv.args[0], ": version ", response.version(), "\n");
  if (!inv.Has("wait")) {
    env.Print(response, summary);
    return kExitOk;
  }
  if (env.global().output == OutputFormat::kTable) env.out() << summary << std::flush;
  return WaitAndReport(env, response.version(), "delete");
}

}  // namespace

CommandSpec DeleteCommand() {
  CommandSpec c;
  c.path = {"delete"};
  c.args_usage = "NAME";
  c.summary = "Delete an app (its file leaves the conf dir; data planes stop serving it).";
  c.flags = {
      {"dry-run", 0, "",
       "check on the server only (the app exists, --expected-version); change nothing"},
      {"wait", 0, "", "wait until every data plane ACKed the new version (bounded by --timeout)"},
      {"expected-version", 0, "N", "refuse unless the control plane is at version N"},
  };
  c.min_args = c.max_args = 1;
  c.handler = Delete;
  return c;
}

}  // namespace valet::ctl
