// apply -f FILE|DIR [-f ...] [--dry-run] [--wait] [--expected-version N]
//
// Files are parsed and validated here first (common/conf_dir.h), so a local mistake names the file
// and field and never reaches the server. All apps go in one ApplyApps call: all or none.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_validation.h"
#include "common/conf_dir.h"
#include "common/string_view.h"
#include "common/validation_errors.h"
#include "valetctl/ack_wait.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

// Loads every -f path; on failure prints one "error: ..." line per problem.
bool LoadApps(const std::vector<std::string>& paths, std::ostream& err,
              std::vector<SourcedApp>& apps) {
  std::vector<v1::ValidationError> errors;
  auto add = [&](const absl::Status& status) {
    for (v1::ValidationError& e : ValidationErrorsOf(status)) errors.push_back(std::move(e));
  };
  for (const std::string& path : paths) {
    // Redacted keys (what `apps get -o json` prints) are the control plane's to resolve.
    absl::StatusOr<std::vector<SourcedApp>> loaded = LoadAppsFromPath(path, RedactedKeys::kAllowed);
    if (!loaded.ok()) {
      add(loaded.status());
      continue;
    }
    for (SourcedApp& app : *loaded) apps.push_back(std::move(app));
  }
  // Each path was validated alone; a name may still appear in two of them.
  if (errors.empty() && paths.size() > 1) add(ValidateAppSet(apps, RedactedKeys::kAllowed));
  if (errors.empty() && apps.empty()) {
    errors.push_back(
        MakeValidationError(absl::StrJoin(paths, ", "), "", "no app config (*.json) found"));
  }
  for (const v1::ValidationError& e : errors) err << "error: " << FormatValidationError(e) << "\n";
  return errors.empty();
}

// The server names an app of the request "apps[I]"; say which file it came from instead.
void NameSource(const std::vector<SourcedApp>& apps, v1::ValidationError* error) {
  std::string_view file = error->file();
  int index = 0;
  if (file.size() < 7 || file.substr(0, 5) != "apps[" || file.back() != ']' ||
      !absl::SimpleAtoi(AsAbsl(file.substr(5, file.size() - 6)), &index) || index < 0 ||
      static_cast<size_t>(index) >= apps.size()) {
    return;
  }
  error->set_file(apps[index].source);
}

int Apply(const Invocation& inv, CommandEnv& env) {
  bool dry_run = inv.Has("dry-run");
  bool wait = inv.Has("wait");
  if (dry_run && wait) {
    env.err()
        << "error: apply: --wait cannot be used with --dry-run (a dry run makes no version)\n";
    return kExitUsage;
  }
  uint64_t expected_version = 0;
  if (inv.Has("expected-version") &&
      !absl::SimpleAtoi(inv.Value("expected-version"), &expected_version)) {
    env.err() << "error: apply: --expected-version must be a version number, got \""
              << inv.Value("expected-version") << "\"\n";
    return kExitUsage;
  }

  std::vector<SourcedApp> apps;
  if (!LoadApps(inv.Values("file"), env.err(), apps)) return kExitRefused;

  v1::ApplyAppsRequest request;
  std::vector<std::string> names;
  for (const SourcedApp& app : apps) {
    *request.add_apps() = app.app;
    names.push_back(app.app.name());
  }
  request.set_dry_run(dry_run);
  request.set_expected_version(expected_version);

  ControlConnection& conn = env.connection();
  std::unique_ptr<grpc::ClientContext> context = conn.NewContext();
  if (!dry_run && !conn.ConnectForChange(context->deadline(), env.err())) return kExitUnreachable;
  v1::ApplyAppsResponse response;
  grpc::Status status = conn.stub().ApplyApps(context.get(), request, &response);
  if (!status.ok()) {
    return conn.ReportError(
        status, dry_run ? "apply --dry-run" : "apply", env.err(),
        [&](v1::ValidationError* error) { NameSource(apps, error); },
        /*mutation=*/!dry_run);
  }

  std::string summary =
      dry_run ? absl::StrCat("dry run: ", apps.size(), " app", apps.size() == 1 ? "" : "s",
                             " valid (", SummariseNames(names), "); nothing changed, version ",
                             response.version(), "\n")
              : absl::StrCat("applied ", apps.size(), " app", apps.size() == 1 ? "" : "s", " (",
                             SummariseNames(names), "): version ", response.version(), "\n");
  if (!wait) {
    env.Print(response, summary);
    return kExitOk;
  }
  // With --wait and -o json the answer printed is the wait's (it carries the version too).
  if (env.global().output == OutputFormat::kTable) env.out() << summary << std::flush;
  return WaitAndReport(env, response.version(), "apply");
}

}  // namespace

CommandSpec ApplyCommand() {
  CommandSpec c;
  c.path = {"apply"};
  c.summary = "Create or replace the apps of FILE (one JSON app config) or DIR (every *.json).";
  c.details =
      "The files are parsed and validated locally first; every error names the file and field.\n"
      "All apps are sent in one call and applied all or none; a refused apply changes nothing.\n"
      "With --wait, returns once every attached data plane has ACKed the new version (exit 0), or\n"
      "names each data plane that NACKed it, with its reason, or did not answer within --timeout\n"
      "(exit 1).";
  c.flags = {
      {"file", 'f', "FILE|DIR", "app config file or conf dir to apply", true, true},
      {"dry-run", 0, "", "validate on the server only; change nothing"},
      {"wait", 0, "", "wait until every data plane ACKed the new version (bounded by --timeout)"},
      {"expected-version", 0, "N", "refuse unless the control plane is at version N"},
  };
  c.handler = Apply;
  return c;
}

}  // namespace valet::ctl
