#include "valetctl/cli.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/string_view.h"
#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

constexpr std::string_view kProgram = "valetctl";

const char kGlobalFlagsHelp[] =
    "Global flags (before or after the command):\n"
    "  --server ADDR        control plane gRPC address (default $VALET_SERVER, else "
    "127.0.0.1:9090)\n"
    "  -o, --output FORMAT  table (default) or json (protobuf's JSON mapping of the answer)\n"
    "  --timeout DUR        deadline of every call, e.g. 500ms, 10s, 1m (default 10s)\n"
    "  --token-file FILE    send the token in FILE (default $VALET_TOKEN)\n"
    "  --tls-ca FILE        dial over TLS, verifying the server against this PEM CA\n"
    "  --tls-cert FILE      client certificate (mTLS), with --tls-key FILE\n"
    "  -h, --help           show help\n";

const char kExitCodesHelp[] =
    "Exit codes: 0 done, 1 refused or invalid, 2 usage error, 3 server unreachable,\n"
    "4 outcome unknown (a change was sent but no answer came back: it may have landed).\n";

std::string PathString(const std::vector<std::string>& path) { return absl::StrJoin(path, " "); }

bool StartsWith(const std::vector<std::string>& path, const std::vector<std::string>& prefix) {
  return prefix.size() <= path.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

std::string UsageLine(const CommandSpec& command) {
  std::string line =
      absl::StrCat("Usage: ", AsAbsl(kProgram), " [global flags] ", PathString(command.path));
  for (const FlagSpec& flag : command.flags) {
    std::string f = flag.short_name != 0 ? absl::StrCat("-", std::string(1, flag.short_name))
                                         : absl::StrCat("--", flag.name);
    if (!flag.value_name.empty()) absl::StrAppend(&f, " ", flag.value_name);
    absl::StrAppend(&line, " ", flag.required ? f : absl::StrCat("[", f, "]"));
  }
  if (!command.args_usage.empty()) absl::StrAppend(&line, " ", command.args_usage);
  return line;
}

std::string CommandsList(const std::vector<CommandSpec>& commands,
                         const std::vector<std::string>& group) {
  std::vector<std::pair<std::string, std::string>> rows;
  size_t width = 0;
  for (const CommandSpec& c : commands) {
    if (!StartsWith(c.path, group)) continue;
    std::string name = PathString(c.path);
    if (!c.args_usage.empty()) absl::StrAppend(&name, " ", c.args_usage);
    width = std::max(width, name.size());
    rows.emplace_back(std::move(name), c.summary);
  }
  std::string out;
  for (const auto& [name, summary] : rows) {
    absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 3, ' '), summary, "\n");
  }
  return out;
}

// Parses global flag `name` with `value` into `global`. Returns an error message or "".
std::string ApplyGlobalFlag(const std::string& name, const std::string& value,
                            GlobalOptions& global) {
  if (name == "server") {
    if (value.empty()) return "--server needs a non-empty address (HOST:PORT)";
    global.server = value;
  } else if (name == "output") {
    if (value == "table") {
      global.output = OutputFormat::kTable;
    } else if (value == "json") {
      global.output = OutputFormat::kJson;
    } else {
      return absl::StrCat("-o/--output must be table or json, got \"", value, "\"");
    }
  } else if (name == "token-file" || name == "tls-ca" || name == "tls-cert" || name == "tls-key") {
    if (value.empty()) return absl::StrCat("--", name, " needs a file");
    (name == "token-file" ? global.token_file
     : name == "tls-ca"   ? global.tls_ca
     : name == "tls-cert" ? global.tls_cert
                          : global.tls_key) = value;
  } else if (name == "timeout") {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(value);
    if (!d.ok()) return absl::StrCat("--timeout: ", d.status().message());
    global.timeout = *d;
  }
  return "";
}

// Global flags: long name -> takes a value. All of them do.
bool IsGlobalFlag(std::string_view name) {
  return name == "server" || name == "output" || name == "timeout" || name == "token-file" ||
         name == "tls-ca" || name == "tls-cert" || name == "tls-key";
}

ParseResult UsageError(std::string message, std::string hint) {
  ParseResult r;
  r.kind = ParseResult::Kind::kUsageError;
  r.text = std::move(message);
  r.hint = std::move(hint);
  return r;
}

ParseResult Help(std::string text) {
  ParseResult r;
  r.kind = ParseResult::Kind::kHelp;
  r.text = std::move(text);
  return r;
}

std::string HintFor(const std::vector<std::string>& words) {
  if (words.empty()) return absl::StrCat("run '", AsAbsl(kProgram), " --help' for usage");
  return absl::StrCat("run '", AsAbsl(kProgram), " ", PathString(words), " --help' for usage");
}

}  // namespace

std::string Invocation::Value(const std::string& flag) const {
  auto it = flags.find(flag);
  if (it == flags.end() || it->second.empty()) return "";
  return it->second.back();
}

std::vector<std::string> Invocation::Values(const std::string& flag) const {
  auto it = flags.find(flag);
  if (it == flags.end()) return {};
  return it->second;
}

absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text) {
  std::string s(absl::StripAsciiWhitespace(AsAbsl(text)));
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(s, &seconds) && !s.empty() &&
      std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c) || c == '.'; })) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(s, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", s, "\" is not a duration (use e.g. 500ms, 10s, 2m)"));
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", s, "\" must be more than zero"));
  }
  if (d > absl::Hours(24)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", s, "\" is longer than 24h"));
  }
  return d;
}

std::string TopLevelHelp(const std::vector<CommandSpec>& commands) {
  return absl::StrCat("Usage: ", AsAbsl(kProgram),
                      " [--server ADDR] [-o table|json] [--timeout DUR] COMMAND [FLAGS] [ARGS]\n\n",
                      "Operates a Valet control plane: apps, config versions, data planes.\n\n",
                      "Commands:\n", CommandsList(commands, {}), "\n", kGlobalFlagsHelp, "\n",
                      kExitCodesHelp, "Run '", AsAbsl(kProgram),
                      " COMMAND --help' for the flags of a command.\n");
}

std::string CommandHelp(const CommandSpec& command) {
  std::string out = absl::StrCat(UsageLine(command), "\n\n", command.summary, "\n");
  if (!command.details.empty()) absl::StrAppend(&out, "\n", command.details, "\n");
  if (!command.flags.empty()) {
    std::vector<std::pair<std::string, std::string>> rows;
    size_t width = 0;
    for (const FlagSpec& flag : command.flags) {
      std::string name = flag.short_name != 0
                             ? absl::StrCat("-", std::string(1, flag.short_name), ", --", flag.name)
                             : absl::StrCat("--", flag.name);
      if (!flag.value_name.empty()) absl::StrAppend(&name, " ", flag.value_name);
      width = std::max(width, name.size());
      std::string help = flag.help;
      if (flag.repeatable) absl::StrAppend(&help, " (repeatable)");
      rows.emplace_back(std::move(name), std::move(help));
    }
    absl::StrAppend(&out, "\nFlags:\n");
    for (const auto& [name, help] : rows) {
      absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 3, ' '), help, "\n");
    }
  }
  absl::StrAppend(&out, "\n", kGlobalFlagsHelp, "\n", kExitCodesHelp);
  return out;
}

std::string GroupHelp(const std::vector<CommandSpec>& commands,
                      const std::vector<std::string>& group) {
  return absl::StrCat("Usage: ", AsAbsl(kProgram), " [global flags] ", PathString(group),
                      " COMMAND [ARGS]\n\nCommands:\n", CommandsList(commands, group), "\n",
                      kGlobalFlagsHelp, "\n", kExitCodesHelp);
}

ParseResult ParseCommandLine(const std::vector<CommandSpec>& commands,
                             const std::vector<std::string>& args, std::string_view env_server) {
  Invocation inv;
  if (!env_server.empty()) inv.global.server = std::string(env_server);

  std::vector<std::string> words;  // Command words seen so far.
  const CommandSpec* command = nullptr;
  bool help = false;
  bool flags_done = false;

  auto is_group = [&](const std::vector<std::string>& prefix) {
    return std::any_of(commands.begin(), commands.end(),
                       [&](const CommandSpec& c) { return StartsWith(c.path, prefix); });
  };

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool looks_like_flag = !flags_done && arg.size() > 1 && arg[0] == '-';
    if (!looks_like_flag) {
      if (command != nullptr) {
        inv.args.push_back(arg);
        continue;
      }
      // `valetctl help [COMMAND...]` is the same as `valetctl [COMMAND...] --help`.
      if (words.empty() && arg == "help" && !flags_done) {
        help = true;
        continue;
      }
      words.push_back(arg);
      for (const CommandSpec& c : commands) {
        if (c.path == words) command = &c;
      }
      if (command == nullptr && !is_group(words)) {
        if (help) break;  // Help for what is known so far.
        std::vector<std::string> known(words.begin(), words.end() - 1);
        std::string what = known.empty() ? "command" : PathString(known) + " command";
        return UsageError(absl::StrCat("unknown ", what, " \"", arg, "\""), HintFor(known));
      }
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }

    // A flag: split "--name=value" / "-x=value".
    std::string name;
    std::optional<std::string> value;
    bool is_long = arg.rfind("--", 0) == 0;
    std::string body = arg.substr(is_long ? 2 : 1);
    if (size_t eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    bool global = false;
    if (is_long) {
      name = body;
      global = IsGlobalFlag(name);
    } else if (body.size() == 1) {
      if (body == "o") {
        name = "output";
        global = true;
      }
    }
    if (!global && command != nullptr) {
      for (const FlagSpec& f : command->flags) {
        if ((is_long && f.name == body) ||
            (!is_long && body.size() == 1 && f.short_name == body[0])) {
          spec = &f;
          name = f.name;
        }
      }
    }
    if (!global && spec == nullptr) {
      if (help) continue;  // Help wins over a flag that could not be placed.
      std::string where =
          command != nullptr
              ? absl::StrCat(" for \"", PathString(command->path), "\"")
              : (words.empty() ? std::string() : absl::StrCat(" before the command is complete"));
      return UsageError(absl::StrCat("unknown flag \"", arg, "\"", where), HintFor(words));
    }
    bool takes_value = global || !spec->value_name.empty();
    if (!takes_value) {
      if (value.has_value()) {
        return UsageError(absl::StrCat("flag --", name, " takes no value"), HintFor(words));
      }
      inv.flags[name] = {"true"};
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        if (help) continue;
        return UsageError(absl::StrCat("flag ", arg, " needs a value"), HintFor(words));
      }
      value = args[++i];
    }
    if (global) {
      std::string error = ApplyGlobalFlag(name, *value, inv.global);
      if (!error.empty() && !help) return UsageError(error, HintFor(words));
      continue;
    }
    if (spec->repeatable) {
      inv.flags[name].push_back(*value);
    } else {
      inv.flags[name] = {*value};
    }
  }

  if (help) {
    if (command != nullptr) return Help(CommandHelp(*command));
    if (!words.empty() && is_group(words)) return Help(GroupHelp(commands, words));
    return Help(TopLevelHelp(commands));
  }
  if (command == nullptr) {
    if (words.empty()) return UsageError("no command given", HintFor({}));
    return UsageError(
        absl::StrCat("\"", PathString(words), "\" needs a subcommand: ",
                     absl::StrJoin(
                         [&] {
                           std::vector<std::string> subs;
                           for (const CommandSpec& c : commands) {
                             if (StartsWith(c.path, words) && c.path.size() > words.size()) {
                               subs.push_back(c.path[words.size()]);
                             }
                           }
                           return subs;
                         }(),
                         ", ")),
        HintFor(words));
  }
  for (const FlagSpec& f : command->flags) {
    if (f.required && !inv.Has(f.name)) {
      std::string flag = f.short_name != 0 ? absl::StrCat("-", std::string(1, f.short_name))
                                           : absl::StrCat("--", f.name);
      return UsageError(
          absl::StrCat(PathString(command->path), ": ", flag, " ", f.value_name, " is required"),
          HintFor(command->path));
    }
  }
  if (inv.args.size() < command->min_args) {
    return UsageError(absl::StrCat(PathString(command->path), ": missing ", command->args_usage),
                      HintFor(command->path));
  }
  if (inv.args.size() > command->max_args) {
    return UsageError(absl::StrCat(PathString(command->path), ": unexpected argument \"",
                                   inv.args[command->max_args], "\""),
                      HintFor(command->path));
  }
  inv.command = command;
  ParseResult r;
  r.kind = ParseResult::Kind::kRun;
  r.invocation = std::move(inv);
  return r;
}

std::vector<CommandSpec> AllCommands() {
  std::vector<CommandSpec> all;
  for (auto& c : AppsCommands()) all.push_back(std::move(c));
  all.push_back(ApplyCommand());
  all.push_back(DeleteCommand());
  all.push_back(ReloadCommand());
  all.push_back(ValidateCommand());
  all.push_back(DataplanesCommand());
  all.push_back(LimitsCommand());
  all.push_back(VersionCommand());
  all.push_back(WatchCommand());
  for (auto& c : MockCommands()) all.push_back(std::move(c));
  return all;
}

int RunValetctl(const std::vector<std::string>& args, std::string_view env_server,
                std::ostream& out, std::ostream& err) {
  std::vector<CommandSpec> commands = AllCommands();
  ParseResult parsed = ParseCommandLine(commands, args, env_server);
  switch (parsed.kind) {
    case ParseResult::Kind::kHelp:
      out << parsed.text;
      return kExitOk;
    case ParseResult::Kind::kUsageError:
      err << "error: " << parsed.text << "\n";
      if (!parsed.hint.empty()) err << parsed.hint << "\n";
      return kExitUsage;
    case ParseResult::Kind::kRun:
      break;
  }
  const char* env_token = std::getenv(std::string(kTokenEnvVar).c_str());
  absl::StatusOr<ConnectionSecurity> security =
      ResolveSecurity(parsed.invocation.global, env_token != nullptr ? env_token : "");
  if (!security.ok()) {
    err << "error: " << security.status().message() << "\n";
    return kExitUsage;
  }
  CommandEnv env(parsed.invocation.global, *security, out, err);
  int code = parsed.invocation.command->handler(parsed.invocation, env);
  out.flush();
  err.flush();
  return code;
}

}  // namespace valet::ctl
