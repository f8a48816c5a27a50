// limits [APP] [--consumer NAME]: rate limits cluster-wide, per app and consumer budget.
#include "valetctl/app_name_arg.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int GetLimits(const Invocation& inv, CommandEnv& env) {
  v1::GetLimitsRequest request;
  if (!inv.args.empty()) {
    if (!CheckAppNameArg("limits", inv.args[0], env.err())) return kExitUsage;
    request.set_app(inv.args[0]);
  }
  request.set_consumer(inv.Value("consumer"));
  ControlConnection& conn = env.connection();
  v1::GetLimitsResponse response;
  grpc::Status status = conn.stub().GetLimits(conn.NewContext().get(), request, &response);
  if (!status.ok()) return conn.ReportError(status, "limits", env.err());
  env.Print(response, RenderLimitsTable(response));
  return kExitOk;
}

}  // namespace

CommandSpec LimitsCommand() {
  CommandSpec c;
  c.path = {"limits"};
  c.args_usage = "[APP]";
  c.summary = "Show rate limits cluster-wide: used, remaining and refused per budget.";
  c.details =
      "One row per budget: an app's (CONSUMER \"-\") and each consumer's own. USED counts the\n"
      "quota granted to data planes in the current window; REFUSED the 429s in this and the last\n"
      "window, as the data planes last reported them (every --report-interval-ms).";
  c.flags = {{"consumer", 0, "NAME", "only this consumer's own budget"}};
  c.max_args = 1;
  c.handler = GetLimits;
  return c;
}

}  // namespace valet::ctl
