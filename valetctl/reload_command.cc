// reload [--wait]
#include "absl/strings/str_cat.h"
#include "valetctl/ack_wait.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int Reload(const Invocation& inv, CommandEnv& env) {
  ControlConnection& conn = env.connection();
  std::unique_ptr<grpc::ClientContext> context = conn.NewContext();
  if (!conn.ConnectForChange(context->deadline(), env.err())) return kExitUnreachable;
  v1::ReloadResponse response;
  grpc::Status status = conn.stub().Reload(context.get(), {}, &response);
  if (!status.ok())
    return conn.ReportError(status, "reload", env.err(), nullptr, /*mutation=*/true);
  std::string summary = absl::StrCat("reloaded the conf dir: version ", response.version(), "\n");
  if (!inv.Has("wait")) {
    env.Print(response, summary);
    return kExitOk;
  }
  if (env.global().output == OutputFormat::kTable) env.out() << summary << std::flush;
  return WaitAndReport(env, response.version(), "reload");
}

}  // namespace

CommandSpec ReloadCommand() {
  CommandSpec c;
  c.path = {"reload"};
  c.summary =
      "Make the control plane re-read its conf dir (refused, changing nothing, if invalid).";
  c.flags = {
      {"wait", 0, "", "wait until every data plane ACKed the new version (bounded by --timeout)"},
  };
  c.handler = Reload;
  return c;
}

}  // namespace valet::ctl
