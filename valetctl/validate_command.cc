// validate -f FILE|DIR [-f ...]: offline; parses and validates like the control plane would.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_validation.h"
#include "common/conf_dir.h"
#include "common/validation_errors.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

int Validate(const Invocation& inv, CommandEnv& env) {
  std::vector<std::string> paths = inv.Values("file");
  std::vector<SourcedApp> apps;
  v1::ValidateResponse response;  // The same answer shape as the server's Validate call.
  auto add = [&](const absl::Status& status) {
    for (v1::ValidationError& e : ValidationErrorsOf(status)) *response.add_errors() = std::move(e);
  };
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<SourcedApp>> loaded = LoadAppsFromPath(path);
    if (!loaded.ok()) {
      add(loaded.status());
      continue;
    }
    for (SourcedApp& app : *loaded) apps.push_back(std::move(app));
  }
  if (response.errors().empty() && paths.size() > 1) add(ValidateAppSet(apps));
  if (response.errors().empty() && apps.empty()) {
    *response.add_errors() =
        MakeValidationError(absl::StrJoin(paths, ", "), "", "no app config (*.json) found");
  }
  if (env.global().output == OutputFormat::kJson) {
    env.out() << ToJson(response);
  } else if (response.errors().empty()) {
    std::vector<std::string> names;
    for (const SourcedApp& app : apps) names.push_back(app.app.name());
    env.out() << "valid: " << apps.size() << " app" << (apps.size() == 1 ? "" : "s") << " ("
              << SummariseNames(names) << ")\n";
  }
  for (const v1::ValidationError& e : response.errors()) {
    env.err() << "error: " << FormatValidationError(e) << "\n";
  }
  return response.errors().empty() ? kExitOk : kExitRefused;
}

}  // namespace

CommandSpec ValidateCommand() {
  CommandSpec c;
  c.path = {"validate"};
  c.summary =
      "Check app config files offline (no server), with every error named by file and field.";
  c.flags = {
      {"file", 'f', "FILE|DIR", "app config file or conf dir to check", true, true},
  };
  c.handler = Validate;
  return c;
}

}  // namespace valet::ctl
