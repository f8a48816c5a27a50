// valetctl's command line: global options, the command table, a small hand-written parser and the
// dispatcher. absl flags are process-global and know nothing of subcommands, so the parser is ours:
//
//   valetctl [--server ADDR] [-o table|json] [--timeout DUR] COMMAND [FLAGS] [ARGS]
//
// Global flags may appear before or after the command words. "--flag VALUE", "--flag=VALUE" and
// "-f VALUE" are accepted; "--" ends the flags. -h/--help anywhere prints the help of the command
// (or group) named so far. Everything here is single-threaded and free of global state.
#ifndef VALET_VALETCTL_CLI_H_
#define VALET_VALETCTL_CLI_H_

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace valet::ctl {

// Documented exit codes (docs/valetctl.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // The server refused, or the input is invalid.
inline constexpr int kExitUsage = 2;        // Bad command line.
inline constexpr int kExitUnreachable = 3;  // The control plane cannot be reached.
// A change was sent and then no answer said what became of it (a deadline, a lost connection):
// it may have landed.
inline constexpr int kExitOutcomeUnknown = 4;

inline constexpr std::string_view kDefaultServer = "127.0.0.1:9090";
inline constexpr std::string_view kServerEnvVar = "VALET_SERVER";
inline constexpr std::string_view kTokenEnvVar = "VALET_TOKEN";

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  std::string server{kDefaultServer};
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(10);  // Deadline of every call.
  // Security (docs/security.md): a file holding the token (else $VALET_TOKEN), and TLS: the CA
  // the server's certificate must chain to, and a client certificate and key (mTLS).
  std::string token_file;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

// One flag of a command. A flag with an empty value_name is a boolean switch.
struct FlagSpec {
  std::string name;        // Long name without "--", e.g. "file".
  char short_name = 0;     // 'f' for -f, or 0.
  std::string value_name;  // "FILE"; empty for a switch.
  std::string help;
  bool required = false;
  bool repeatable = false;  // Values accumulate; otherwise the last one wins.
};

struct Invocation;
class CommandEnv;
using CommandHandler = std::function<int(const Invocation&, CommandEnv&)>;

// One command: its words ({"apps", "list"}), its flags and positional arguments, its handler.
struct CommandSpec {
  std::vector<std::string> path;
  std::string args_usage;  // e.g. "NAME", shown in the usage line.
  std::string summary;     // One line, for the command list.
  std::string details;     // Paragraph(s) for the command's --help; may be empty.
  std::vector<FlagSpec> flags;
  size_t min_args = 0;
  size_t max_args = 0;
  CommandHandler handler;
};

// A parsed command line, ready to run.
struct Invocation {
  const CommandSpec* command = nullptr;
  GlobalOptions global;
  std::map<std::string, std::vector<std::string>>
      flags;  // Long name -> values ("true" for switches).
  std::vector<std::string> args;

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  // The last value of `flag`, or "" when absent.
  std::string Value(const std::string& flag) const;
  std::vector<std::string> Values(const std::string& flag) const;
};

struct ParseResult {
  enum class Kind { kRun, kHelp, kUsageError };
  Kind kind = Kind::kUsageError;
  Invocation invocation;  // kRun.
  std::string text;       // kHelp: the help to print on stdout. kUsageError: the error line.
  std::string hint;       // kUsageError: what to run for help.
};

// Parses `args` (without argv[0]). `env_server` is $VALET_SERVER, or empty when unset.
ParseResult ParseCommandLine(const std::vector<CommandSpec>& commands,
                             const std::vector<std::string>& args, std::string_view env_server);

// Durations: "500ms", "10s", "1.5s", "2m", "1h", or a bare number of seconds. Must be > 0.
absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text);

std::string TopLevelHelp(const std::vector<CommandSpec>& commands);
std::string CommandHelp(const CommandSpec& command);
// Help for a group such as "apps": its subcommands.
std::string GroupHelp(const std::vector<CommandSpec>& commands,
                      const std::vector<std::string>& group);

// Every valetctl command, in help order.
std::vector<CommandSpec> AllCommands();

// Parses and runs one valetctl command line; returns the exit code. Output goes to `out`, errors
// (one line each) to `err`.
int RunValetctl(const std::vector<std::string>& args, std::string_view env_server,
                std::ostream& out, std::ostream& err);

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_CLI_H_
