// dataplanes: the data planes attached to the control plane and the version each serves.
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int ListDataPlanes(const Invocation& inv, CommandEnv& env) {
  ControlConnection& conn = env.connection();
  v1::ListDataPlanesResponse response;
  grpc::Status status = conn.stub().ListDataPlanes(conn.NewContext().get(), {}, &response);
  if (!status.ok()) return conn.ReportError(status, "dataplanes", env.err());
  env.Print(response, RenderDataplanesTable(response));
  return kExitOk;
}

}  // namespace

CommandSpec DataplanesCommand() {
  CommandSpec c;
  c.path = {"dataplanes"};
  c.summary = "List attached data planes: version served, connected since, last NACK.";
  c.details =
      "STATE is \"in sync\" when the data plane serves the control plane's version, \"behind\"\n"
      "when it serves an older one (still loading it, or it NACKed it: see LAST NACK).";
  c.handler = ListDataPlanes;
  return c;
}

}  // namespace valet::ctl
