// version: the control plane's current config version.
#include "absl/strings/str_cat.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int Version(const Invocation& inv, CommandEnv& env) {
  ControlConnection& conn = env.connection();
  v1::GetVersionResponse response;
  grpc::Status status = conn.stub().GetVersion(conn.NewContext().get(), {}, &response);
  if (!status.ok()) return conn.ReportError(status, "version", env.err());
  env.Print(response, absl::StrCat(response.version(), "\n"));
  return kExitOk;
}

}  // namespace

CommandSpec VersionCommand() {
  CommandSpec c;
  c.path = {"version"};
  c.summary = "Print the control plane's current config version (grows by one per change).";
  c.handler = Version;
  return c;
}

}  // namespace valet::ctl
