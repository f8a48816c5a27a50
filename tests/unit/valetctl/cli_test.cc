// valetctl's command-line parsing and dispatch, without a server.
#include "valetctl/cli.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace valet::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ParseTest : public ::testing::Test {
 protected:
  ParseResult Parse(std::vector<std::string> args, std::string_view env_server = "") {
    return ParseCommandLine(commands_, args, env_server);
  }
  std::vector<CommandSpec> commands_ = AllCommands();
};

TEST_F(ParseTest, NoCommandIsAUsageError) {
  ParseResult r = Parse({});
  EXPECT_EQ(r.kind, ParseResult::Kind::kUsageError);
  EXPECT_EQ(r.text, "no command given");
  EXPECT_THAT(r.hint, HasSubstr("valetctl --help"));
}

TEST_F(ParseTest, TopLevelHelpListsEveryCommandAndExitCodes) {
  for (const char* flag : {"--help", "-h"}) {
    ParseResult r = Parse({flag});
    ASSERT_EQ(r.kind, ParseResult::Kind::kHelp) << flag;
    for (const char* command :
         {"apps list", "apps get NAME", "apply", "delete NAME", "reload", "validate", "dataplanes",
          "limits [APP]", "version", "watch", "mock on NAME", "mock off NAME", "mock list NAME",
          "mock record NAME"}) {
      EXPECT_THAT(r.text, HasSubstr(command));
    }
    EXPECT_THAT(r.text, HasSubstr("3 server unreachable"));
    EXPECT_THAT(r.text, HasSubstr("4 outcome unknown"));
  }
}

TEST_F(ParseTest, EveryCommandHasHelp) {
  for (const CommandSpec& c : commands_) {
    std::vector<std::string> args = c.path;
    args.push_back("--help");
    ParseResult r = Parse(args);
    ASSERT_EQ(r.kind, ParseResult::Kind::kHelp) << args[0];
    EXPECT_THAT(r.text, StartsWith("Usage: valetctl [global flags] " + args[0]));
    EXPECT_THAT(r.text, HasSubstr(c.summary));
  }
}

TEST_F(ParseTest, HelpWinsOverMissingArguments) {
  ParseResult r = Parse({"apply", "-h"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kHelp);
  EXPECT_THAT(r.text, HasSubstr("-f, --file FILE|DIR"));
  EXPECT_THAT(r.text, HasSubstr("--wait"));
}

TEST_F(ParseTest, HelpCommandAndGroupHelp) {
  ParseResult r = Parse({"help", "apply"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kHelp);
  EXPECT_THAT(r.text, StartsWith("Usage: valetctl [global flags] apply"));
  r = Parse({"apps", "--help"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kHelp);
  EXPECT_THAT(r.text, HasSubstr("apps list"));
  EXPECT_THAT(r.text, HasSubstr("apps get NAME"));
  EXPECT_THAT(r.text, ::testing::Not(HasSubstr("dataplanes")));
}

TEST_F(ParseTest, DefaultsAndEnvironment) {
  ParseResult r = Parse({"version"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kRun);
  EXPECT_EQ(r.invocation.global.server, "127.0.0.1:9090");
  EXPECT_EQ(r.invocation.global.output, OutputFormat::kTable);
  EXPECT_EQ(r.invocation.global.timeout, absl::Seconds(10));
  EXPECT_EQ(r.invocation.command->path, std::vector<std::string>{"version"});

  r = Parse({"version"}, "10.0.0.1:9999");
  EXPECT_EQ(r.invocation.global.server, "10.0.0.1:9999");
  r = Parse({"--server", "127.0.0.1:7", "version"}, "10.0.0.1:9999");
  EXPECT_EQ(r.invocation.global.server, "127.0.0.1:7");
}

TEST_F(ParseTest, GlobalFlagsBeforeAndAfterTheCommand) {
  ParseResult r =
      Parse({"--server=127.0.0.1:1", "-o", "json", "apps", "list", "--timeout", "500ms"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kRun) << r.text;
  EXPECT_EQ(r.invocation.global.server, "127.0.0.1:1");
  EXPECT_EQ(r.invocation.global.output, OutputFormat::kJson);
  EXPECT_EQ(r.invocation.global.timeout, absl::Milliseconds(500));
  EXPECT_EQ(r.invocation.command->path, (std::vector<std::string>{"apps", "list"}));

  r = Parse({"apps", "get", "userauth", "--output=table", "-o=json"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kRun) << r.text;
  EXPECT_EQ(r.invocation.global.output, OutputFormat::kJson);
  EXPECT_THAT(r.invocation.args, ElementsAre("userauth"));
}

TEST_F(ParseTest, ApplyFlags) {
  ParseResult r =
      Parse({"apply", "-f", "a.json", "--file=conf/", "--dry-run", "--expected-version", "7"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kRun) << r.text;
  EXPECT_THAT(r.invocation.Values("file"), ElementsAre("a.json", "conf/"));
  EXPECT_TRUE(r.invocation.Has("dry-run"));
  EXPECT_FALSE(r.invocation.Has("wait"));
  EXPECT_EQ(r.invocation.Value("expected-version"), "7");
  EXPECT_TRUE(r.invocation.args.empty());
}

TEST_F(ParseTest, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  std::vector<Case> cases = {
      {{"bogus"}, "unknown command \"bogus\""},
      {{"apps", "bogus"}, "unknown apps command \"bogus\""},
      {{"apps"}, "\"apps\" needs a subcommand: list, get"},
      {{"apply"}, "apply: -f FILE|DIR is required"},
      {{"apply", "-f"}, "flag -f needs a value"},
      {{"apply", "-f", "x", "--dry-run=yes"}, "flag --dry-run takes no value"},
      {{"apply", "-f", "x", "--force"}, "unknown flag \"--force\" for \"apply\""},
      {{"apply", "-f", "x", "extra"}, "apply: unexpected argument \"extra\""},
      {{"apps", "get"}, "apps get: missing NAME"},
      {{"apps", "get", "a", "b"}, "apps get: unexpected argument \"b\""},
      {{"-o", "yaml", "version"}, "-o/--output must be table or json, got \"yaml\""},
      {{"--timeout", "soon", "version"}, "--timeout: \"soon\" is not a duration"},
      {{"--timeout", "0s", "version"}, "--timeout: \"0s\" must be more than zero"},
      {{"--server=", "version"}, "--server needs a non-empty address"},
      {{"--wait", "apply"}, "unknown flag \"--wait\""},
  };
  for (const Case& c : cases) {
    ParseResult r = Parse(c.args);
    EXPECT_EQ(r.kind, ParseResult::Kind::kUsageError) << c.args[0];
    EXPECT_THAT(r.text, StartsWith(c.error)) << ::testing::PrintToString(c.args);
    EXPECT_THAT(r.hint, HasSubstr("--help"));
  }
}

TEST_F(ParseTest, DoubleDashEndsFlags) {
  ParseResult r = Parse({"delete", "--", "-odd-name"});
  ASSERT_EQ(r.kind, ParseResult::Kind::kRun) << r.text;
  EXPECT_THAT(r.invocation.args, ElementsAre("-odd-name"));
}

TEST(ParseDurationFlagTest, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(*ParseDurationFlag("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDurationFlag("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParseDurationFlag("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDurationFlag("2m"), absl::Minutes(2));
  EXPECT_EQ(*ParseDurationFlag("3"), absl::Seconds(3));
  EXPECT_FALSE(ParseDurationFlag("").ok());
  EXPECT_FALSE(ParseDurationFlag("-1s").ok());
  EXPECT_FALSE(ParseDurationFlag("10 parsecs").ok());
  EXPECT_FALSE(ParseDurationFlag("48h").ok());
}

// RunValetctl end to end for what needs no server.
class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("valetctl_cli_test." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "good");
    std::filesystem::create_directories(dir_ / "bad");
    Write("good/userauth.json",
          R"({"name": "userauth", "authorize": true, "authKey": "k",
              "endpoints": [{"host": "127.0.0.1", "port": 9050}]})");
    Write("good/other.json", R"({"name": "other", "endpoints": [{"host": "h", "port": 1}]})");
    Write("bad/a.json", R"({"name": "a", "endpoints": [{"host": "h", "port": 1}], "limt": 1})");
    Write("bad/b.json", R"({"name": "b", "endpoints": []})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::string Path(const std::string& rel) { return (dir_ / rel).string(); }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunValetctl(args, "", out_, err_);
  }

  std::filesystem::path dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(RunTest, UsageErrorIsExit2WithOneErrorLineAndAHint) {
  EXPECT_EQ(Run({"apps"}), kExitUsage);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(
      err_.str(),
      "error: \"apps\" needs a subcommand: list, get\nrun 'valetctl apps --help' for usage\n");
}

TEST_F(RunTest, HelpIsExit0OnStdout) {
  EXPECT_EQ(Run({"watch", "--help"}), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("until interrupted"));
  EXPECT_EQ(err_.str(), "");
}

TEST_F(RunTest, ValidateOfflineGood) {
  EXPECT_EQ(Run({"validate", "-f", Path("good")}), kExitOk);
  EXPECT_EQ(out_.str(), "valid: 2 apps (other, userauth)\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(RunTest, ValidateOfflineBadNamesEachFileAndField) {
  EXPECT_EQ(Run({"validate", "-f", Path("bad")}), kExitRefused);
  EXPECT_EQ(out_.str(), "");
  EXPECT_EQ(err_.str(), "error: " + Path("bad/a.json") + ": limt: unknown field \"limt\"\n" +
                            "error: " + Path("bad/b.json") +
                            ": endpoints: at least one endpoint is required\n");
}

TEST_F(RunTest, ValidateJson) {
  EXPECT_EQ(Run({"-o", "json", "validate", "-f", Path("good/other.json")}), kExitOk);
  EXPECT_EQ(out_.str(), "{\n \"errors\": []\n}\n");
}

TEST_F(RunTest, ValidateDuplicateAcrossPaths) {
  EXPECT_EQ(Run({"validate", "-f", Path("good"), "-f", Path("good/other.json")}), kExitRefused);
  EXPECT_THAT(err_.str(), HasSubstr("duplicate app name \"other\""));
}

TEST_F(RunTest, ApplyInvalidFilesNeverReachesTheServer) {
  // Port 1 on loopback has no server: a connection attempt would exit 3, not 1.
  EXPECT_EQ(Run({"--server", "127.0.0.1:1", "apply", "-f", Path("bad")}), kExitRefused);
  EXPECT_THAT(err_.str(), HasSubstr("limt: unknown field"));
  EXPECT_EQ(Run({"--server", "127.0.0.1:1", "apply", "-f", Path("missing.json")}), kExitRefused);
  EXPECT_THAT(err_.str(), HasSubstr("missing.json: no such file"));
}

TEST_F(RunTest, ApplyDryRunWithWaitIsAUsageError) {
  EXPECT_EQ(Run({"apply", "-f", Path("good"), "--dry-run", "--wait"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--wait cannot be used with --dry-run"));
}

// A name no app can have is a usage error before anything is sent: port 1 has no server, so a
// call would exit 3 (and a 10,000-character name used to fail on gRPC's metadata limit).
TEST_F(RunTest, AnInvalidAppNameIsAUsageErrorBeforeAnyCall) {
  const std::string long_name(10000, 'a');
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"apps", "get", long_name},
           {"delete", long_name},
           {"delete", "--dry-run", long_name},
           {"apps", "get", "../etc"},
           {"delete", "a/b"},
           {"apps", "get", "has space"},
       }) {
    args.insert(args.begin(), {"--server", "127.0.0.1:1", "--timeout", "2s"});
    EXPECT_EQ(Run(args), kExitUsage) << err_.str();
    std::string err = err_.str();
    EXPECT_THAT(err, HasSubstr("is not a valid app name")) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_LT(err.size(), 250u) << err;  // The name is shortened, not printed whole.
    EXPECT_EQ(out_.str(), "");
  }
  EXPECT_EQ(err_.str(),
            "error: apps get: \"has space\" is not a valid app name, so no app has it (see "
            "\"name\" in docs/config.md)\n");
  Run({"--server", "127.0.0.1:1", "apps", "get", long_name});
  EXPECT_THAT(err_.str(), HasSubstr("...\" (10000 characters) is not a valid app name"));
  Run({"--server", "127.0.0.1:1", "apps", "get", "bad\nname"});
  EXPECT_THAT(err_.str(), HasSubstr("\"bad\\nname\""));  // Escaped: one line.
}

TEST_F(RunTest, UnreachableServerIsExit3) {
  EXPECT_EQ(Run({"--server", "127.0.0.1:1", "--timeout", "2s", "apps", "list"}), kExitUnreachable);
  EXPECT_THAT(err_.str(), StartsWith("error: cannot reach the control plane at 127.0.0.1:1: "));
  std::string err = err_.str();
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(Run({"--server", "127.0.0.1:1", "--timeout", "2s", "watch"}), kExitUnreachable);
  // A change that could not be sent is not "outcome unknown": it never left.
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"apply", "-f", Path("good")}, {"delete", "x"}, {"reload"}}) {
    args.insert(args.begin(), {"--server", "127.0.0.1:1", "--timeout", "2s"});
    EXPECT_EQ(Run(args), kExitUnreachable) << err_.str();
    EXPECT_THAT(err_.str(), StartsWith("error: cannot reach the control plane at 127.0.0.1:1: "));
    EXPECT_THAT(err_.str(), HasSubstr("nothing was sent"));
  }
}

// Summaries name a few apps, then count the rest: 2,000 apps must not make one 18 KB line.
TEST_F(RunTest, ValidateOfManyAppsPrintsAShortLine) {
  std::filesystem::create_directories(dir_ / "many");
  for (int i = 0; i < 300; ++i) {
    std::string name = "app" + std::to_string(1000 + i);
    Write("many/" + name + ".json",
          R"({"name": ")" + name + R"(", "endpoints": [{"host": "h", "port": 1}]})");
  }
  EXPECT_EQ(Run({"validate", "-f", Path("many")}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "valid: 300 apps (app1000, app1001, app1002, app1003, app1004 and 295 more)\n");
}

}  // namespace
}  // namespace valet::ctl
