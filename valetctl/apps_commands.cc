// apps list, apps get NAME.
#include "valetctl/app_name_arg.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int ListApps(const Invocation& inv, CommandEnv& env) {
  ControlConnection& conn = env.connection();
  v1::ListAppsResponse response;
  grpc::Status status = conn.stub().ListApps(conn.NewContext().get(), {}, &response);
  if (!status.ok()) return conn.ReportError(status, "apps list", env.err());
  env.Print(response, RenderAppsTable(response));
  return kExitOk;
}

int GetApp(const Invocation& inv, CommandEnv& env) {
  if (!CheckAppNameArg("apps get", inv.args[0], env.err())) return kExitUsage;
  ControlConnection& conn = env.connection();
  v1::GetAppRequest request;
  request.set_name(inv.args[0]);
  v1::GetAppResponse response;
  grpc::Status status = conn.stub().GetApp(conn.NewContext().get(), request, &response);
  if (!status.ok()) return conn.ReportError(status, "apps get " + inv.args[0], env.err());
  // -o json prints the app in its conf-file form: `apply -f` takes it back unchanged.
  env.Print(response.app(), RenderAppDetails(response.app()));
  return kExitOk;
}

}  // namespace

std::vector<CommandSpec> AppsCommands() {
  CommandSpec list;
  list.path = {"apps", "list"};
  list.summary = "List the apps the control plane holds.";
  list.details =
      "Columns: NAME, ENDPOINTS (count), AUTH, RATE LIMIT (requests/period), DESCRIPTION.";
  list.handler = ListApps;

  CommandSpec get;
  get.path = {"apps", "get"};
  get.args_usage = "NAME";
  get.summary = "Show one app's settings (defaults filled in, the auth key hidden).";
  get.details =
      "With -o json the answer is the app in its conf-file form, auth key included: what\n"
      "`valetctl apply -f` takes back unchanged.";
  get.min_args = get.max_args = 1;
  get.handler = GetApp;
  return {std::move(list), std::move(get)};
}

}  // namespace valet::ctl
