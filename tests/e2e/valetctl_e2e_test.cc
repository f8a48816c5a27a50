// valetctl end to end: the real valetctl binary against the real valet-controlplane binary, each
// started as a child process on port 0 with a temporary conf dir. Data planes are in-process fakes
// that speak the real attach stream (ACK, NACK, or silence), so `apply --wait` is exercised against
// every answer a data plane can give.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/secret_redaction.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/binaries.h"
#include "tests/support/fake_data_plane.h"
#include "tests/support/process.h"
#include "valet/v1/attach.grpc.pb.h"
#include "valet/v1/control.grpc.pb.h"
#include "valet/v1/control.pb.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::valet::testing::FakeDataPlane;
using ::valet::testing::Process;
using ::valet::testing::TempDir;
using ::valet::testing::WaitFor;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kRunTimeout = absl::Seconds(30);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const RunResult& r) {
  return os << "exit " << r.exit_code << "\nstdout:\n" << r.out << "stderr:\n" << r.err;
}

std::string AppJson(const std::string& name, int port = 9050) {
  return absl::StrCat(R"({"name": ")", name, R"(", "description": "app )", name,
                      R"(", "endpoints": [{"host": "127.0.0.1", "port": )", port, "}]}");
}

// The seed's example app config, unchanged.
constexpr char kUserAuth[] = R"({
    "name": "userauth",
    "description": "service to authorize users of system",
    "authorize": true,
    "authKey": "thisismyauth",
    "authHeader": "X-Valet-Auth",
    "rateLimit": true,
    "limitValue": 2,
    "endpoints": [
        { "host": "auth.test.com", "path":"", "port":9050 },
        { "host": "auth.test.com", "path":"", "port":9051 }
    ]
}
)";

class ValetctlE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> ctl = valet::testing::ValetctlBinary();
    ASSERT_TRUE(ctl.ok()) << ctl.status();
    valetctl_ = *ctl;
    conf_dir_ = dir_.Join("conf");
    fs::create_directories(conf_dir_);
    StartControlPlane();
  }

  void TearDown() override {
    if (HasFailure() && control_plane_ != nullptr) {
      std::cerr << "valet-controlplane log:\n" << control_plane_->Log() << "\n";
    }
  }

  void StartControlPlane() {
    absl::StatusOr<std::string> bin = valet::testing::ControlplaneBinary();
    ASSERT_TRUE(bin.ok()) << bin.status();
    std::string port_file = dir_.Join("ports");
    fs::remove(port_file);
    absl::StatusOr<std::unique_ptr<Process>> cp =
        Process::Start(*bin, {"--conf-dir", conf_dir_, "--grpc-listen", "127.0.0.1:0",
                              "--http-listen", "127.0.0.1:0", "--port-file", port_file});
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = *std::move(cp);
    absl::StatusOr<std::map<std::string, std::string>> ports =
        valet::testing::WaitForPortFile(port_file, kStartTimeout);
    ASSERT_TRUE(ports.ok()) << ports.status() << "; log:\n" << control_plane_->Log();
    server_ = (*ports)["grpc"];
    ASSERT_FALSE(server_.empty()) << "no grpc listener in the port file; log:\n"
                                  << control_plane_->Log();
  }

  // Starts valetctl with `args` as given (no --server added), without the caller's VALET_SERVER
  // (tests choose it), plus `extra_env`. Null (and a test failure) if it cannot be started.
  std::unique_ptr<Process> StartValetctl(const std::vector<std::string>& args,
                                         std::vector<std::string> extra_env = {}) {
    absl::StatusOr<std::unique_ptr<Process>> child = Process::Start(
        valetctl_, args,
        Process::Options{.extra_env = std::move(extra_env), .unset_env = {"VALET_SERVER"}});
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  // Runs valetctl with `args` as given (no --server added) and `extra_env`.
  RunResult RunRaw(const std::vector<std::string>& args,
                   const std::vector<std::string>& extra_env = {}) {
    std::unique_ptr<Process> child = StartValetctl(args, extra_env);
    RunResult r;
    if (child == nullptr) return r;
    absl::StatusOr<int> code = child->Wait(kRunTimeout);
    EXPECT_TRUE(code.ok()) << "valetctl did not exit: " << ::testing::PrintToString(args);
    r.exit_code = code.ok() ? *code : -1;
    r.out = child->Stdout();
    r.err = child->Stderr();
    return r;
  }

  // Runs valetctl against the control plane under test.
  RunResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", server_});
    return RunRaw(args);
  }

  uint64_t Version() {
    RunResult r = Ctl({"version"});
    EXPECT_EQ(r.exit_code, 0) << r;
    uint64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &v)) << r;
    return v;
  }

  v1::ListAppsResponse ListApps() {
    RunResult r = Ctl({"-o", "json", "apps", "list"});
    EXPECT_EQ(r.exit_code, 0) << r;
    v1::ListAppsResponse response;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &response).ok()) << r;
    return response;
  }

  // Writes an input file under in/ (not the conf dir) and returns its path.
  std::string WriteApp(const std::string& rel, const std::string& json) {
    return dir_.WriteFile("in/" + rel, json);
  }

  TempDir dir_;
  std::string valetctl_;
  std::string conf_dir_;
  std::string server_;
  std::unique_ptr<Process> control_plane_;
};

TEST_F(ValetctlE2eTest, HelpAndUsageErrorsNeedNoServer) {
  RunResult r = RunRaw({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("Commands:"));
  for (const char* command :
       {"apps", "apply", "delete", "reload", "validate", "dataplanes", "version", "watch"}) {
    r = RunRaw({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_THAT(r.out, StartsWith("Usage: valetctl")) << command;
  }
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{},
                                             {"nope"},
                                             {"apps"},
                                             {"apps", "get"},
                                             {"apply"},
                                             {"apply", "-f", "x", "--force"},
                                             {"-o", "xml", "version"},
                                             {"--timeout", "never", "version"}}) {
    r = RunRaw(args);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith("error: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r;  // The error and a hint.
  }
}

TEST_F(ValetctlE2eTest, ApplyListGetDelete) {
  uint64_t v0 = Version();
  std::string file = WriteApp("userauth.json", kUserAuth);

  RunResult r = Ctl({"apply", "-f", file});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("applied 1 app (userauth): version ", v0 + 1, "\n"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Version(), v0 + 1);
  EXPECT_TRUE(fs::exists(conf_dir_ + "/userauth.json"));

  r = Ctl({"apps", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "NAME       ENDPOINTS   AUTH   RATE LIMIT   DESCRIPTION\n"
            "userauth   2           yes    2/60s        service to authorize users of system\n");

  r = Ctl({"apps", "get", "userauth"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("endpoints[1]       http://auth.test.com:9051\n"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("thisismyauth")));

  // -o json prints the app in its conf-file form, its key redacted; apply takes it back unchanged
  // (the stored key is kept) and the app reads the same afterwards.
  r = Ctl({"-o", "json", "apps", "get", "userauth"});
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string printed = r.out;
  v1::AppConfig got;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(printed, &got).ok()) << r;
  EXPECT_EQ(got.auth_key(), RedactedMarker("thisismyauth"));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("thisismyauth")));
  EXPECT_EQ(got.limit_value(), 2u);
  r = Ctl({"apply", "-f", WriteApp("got.json", printed)});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("applied 1 app (userauth): version ", v0 + 2, "\n"));
  r = Ctl({"-o", "json", "apps", "get", "userauth"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, printed);

  r = Ctl({"apps", "get", "nosuch"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, StartsWith("error: apps get nosuch: "));

  r = Ctl({"delete", "userauth"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("deleted userauth: version ", v0 + 3, "\n"));
  EXPECT_FALSE(fs::exists(conf_dir_ + "/userauth.json"));
  EXPECT_EQ(ListApps().apps_size(), 0);

  r = Ctl({"delete", "userauth"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, StartsWith("error: delete userauth: "));
  EXPECT_EQ(Version(), v0 + 3);
}

TEST_F(ValetctlE2eTest, ApplyDirectoryIsOneVersion) {
  uint64_t v0 = Version();
  WriteApp("set/a.json", AppJson("a"));
  WriteApp("set/b.json", AppJson("b"));
  WriteApp("set/c.json", AppJson("c"));
  RunResult r = Ctl({"-o", "json", "apply", "-f", dir_.Join("in/set")});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::ApplyAppsResponse applied;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &applied).ok()) << r;
  EXPECT_EQ(applied.version(), v0 + 1);
  v1::ListAppsResponse list = ListApps();
  ASSERT_EQ(list.apps_size(), 3);
  EXPECT_EQ(list.version(), v0 + 1);
}

TEST_F(ValetctlE2eTest, InvalidApplyIsRefusedAndChangesNothing) {
  ASSERT_EQ(Ctl({"apply", "-f", WriteApp("ok.json", AppJson("ok"))}).exit_code, 0);
  uint64_t v0 = Version();

  // Invalid files: refused locally, one line per error, each naming the file and field.
  std::string bad_dir = dir_.Join("in/bad");
  WriteApp("bad/x.json",
           R"({"name": "x", "endpoints": [{"host": "h", "port": 1}], "authorise": 1})");
  WriteApp("bad/y.json", R"({"name": "y", "authorize": true, "endpoints": []})");
  WriteApp("bad/z.json", AppJson("z"));
  RunResult r = Ctl({"apply", "-f", bad_dir});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "");
  std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << r;
  EXPECT_THAT(r.err, HasSubstr("error: " + bad_dir + "/x.json: authorise: unknown field"));
  EXPECT_THAT(r.err, HasSubstr("error: " + bad_dir + "/y.json: authKey: is required"));
  EXPECT_THAT(r.err, HasSubstr("error: " + bad_dir + "/y.json: endpoints: at least one"));
  for (const std::string& line : lines) EXPECT_THAT(line, StartsWith("error: "));

  // Stale expected version: refused by the server (FAILED_PRECONDITION).
  r = Ctl({"apply", "-f", dir_.Join("in/bad/z.json"), "--expected-version", absl::StrCat(v0 - 1)});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, StartsWith("error: apply: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;

  // Dry run: valid, nothing changes.
  r = Ctl({"apply", "--dry-run", "-f", dir_.Join("in/bad/z.json")});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, StartsWith("dry run: 1 app valid (z); nothing changed"));

  EXPECT_EQ(Version(), v0);
  v1::ListAppsResponse list = ListApps();
  ASSERT_EQ(list.apps_size(), 1);
  EXPECT_EQ(list.apps(0).name(), "ok");
  EXPECT_FALSE(fs::exists(conf_dir_ + "/z.json"));
  EXPECT_FALSE(fs::exists(conf_dir_ + "/x.json"));

  // The right expected version is accepted.
  r = Ctl({"apply", "-f", dir_.Join("in/bad/z.json"), "--expected-version", absl::StrCat(v0)});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Version(), v0 + 1);
}

TEST_F(ValetctlE2eTest, ReloadPicksUpTheConfDirOrRefuses) {
  uint64_t v0 = Version();
  dir_.WriteFile("conf/fromdisk.json", AppJson("fromdisk"));
  RunResult r = Ctl({"reload"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("reloaded the conf dir: version ", v0 + 1, "\n"));
  ASSERT_EQ(ListApps().apps_size(), 1);

  dir_.WriteFile("conf/broken.json", R"({"name": "broken", "endpoints": [{"port": 99999}]})");
  r = Ctl({"reload"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("broken.json"));
  for (absl::string_view line : absl::StrSplit(r.err, '\n', absl::SkipEmpty())) {
    EXPECT_THAT(std::string(line), StartsWith("error: "));
  }
  EXPECT_EQ(Version(), v0 + 1);
  EXPECT_EQ(ListApps().apps_size(), 1);
}

TEST_F(ValetctlE2eTest, ValidateIsOffline) {
  std::string good = WriteApp("userauth.json", kUserAuth);
  RunResult r = RunRaw({"--server", "127.0.0.1:1", "validate", "-f", good});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "valid: 1 app (userauth)\n");
  std::string bad = WriteApp("bad.json", R"({"name": "bad/name", "endpoints": []})");
  r = RunRaw({"validate", "-f", bad});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r;  // name and endpoints.
}

TEST_F(ValetctlE2eTest, ServerFromEnvironment) {
  RunResult r = RunRaw({"version"}, {"VALET_SERVER=" + server_});
  EXPECT_EQ(r.exit_code, 0) << r;
  r = RunRaw({"--server", server_, "version"}, {"VALET_SERVER=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 0) << r;
}

TEST_F(ValetctlE2eTest, UnreachableServerIsExit3) {
  std::string gone = server_;
  ASSERT_TRUE(control_plane_->Signal(SIGTERM).ok());
  ASSERT_TRUE(control_plane_->Wait(absl::Seconds(20)).ok());
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"version"}, {"apps", "list"}, {"dataplanes"}, {"watch"}, {"delete", "x"}, {"reload"}}) {
    args.insert(args.begin(), {"--server", gone, "--timeout", "3s"});
    RunResult r = RunRaw(args);
    EXPECT_EQ(r.exit_code, 3) << r;
    EXPECT_THAT(r.err, StartsWith("error: cannot reach the control plane at " + gone + ": "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r;
  }
  std::string file = WriteApp("a.json", AppJson("a"));
  RunResult r = RunRaw({"--server", gone, "apply", "-f", file, "--wait"});
  EXPECT_EQ(r.exit_code, 3) << r;
}

TEST_F(ValetctlE2eTest, ApplyWaitWithoutDataPlanes) {
  uint64_t v0 = Version();
  RunResult r = Ctl({"apply", "--wait", "-f", WriteApp("a.json", AppJson("a"))});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("applied 1 app (a): version ", v0 + 1, "\nversion ", v0 + 1,
                                ": no data plane attached\n"));
  r = Ctl({"dataplanes"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("control plane version ", v0 + 1, "\nno data plane attached\n"));
}

TEST_F(ValetctlE2eTest, ApplyWaitReturnsAfterEveryDataPlaneAcked) {
  FakeDataPlane a, b;
  auto client_a = a.Client(server_, "dp-a");
  auto client_b = b.Client(server_, "dp-b");
  client_a->Start();
  client_b->Start();
  uint64_t v0 = Version();
  ASSERT_TRUE(WaitFor([&] { return a.serving() == v0 && b.serving() == v0; }, absl::Seconds(10)));

  RunResult r = Ctl({"apply", "--wait", "-f", WriteApp("a.json", AppJson("a"))});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("applied 1 app (a): version ", v0 + 1, "\nversion ", v0 + 1,
                                " ACKed by 2 data planes: dp-a, dp-b\n"));
  // Both had the snapshot before valetctl returned.
  EXPECT_EQ(a.serving(), v0 + 1);
  EXPECT_EQ(b.serving(), v0 + 1);

  r = Ctl({"-o", "json", "apply", "--wait", "-f", WriteApp("b.json", AppJson("b"))});
  ASSERT_EQ(r.exit_code, 0) << r;
  v1::WaitForVersionResponse waited;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &waited).ok()) << r;
  EXPECT_TRUE(waited.complete());
  EXPECT_EQ(waited.version(), v0 + 2);
  EXPECT_EQ(waited.acked_size(), 2);

  r = Ctl({"delete", "a", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("version ", v0 + 3, " ACKed by 2 data planes")));

  r = Ctl({"dataplanes"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("dp-a   127.0.0.1:8000   in sync"));
  EXPECT_THAT(r.out, HasSubstr("dp-b   127.0.0.1:8000   in sync"));
}

TEST_F(ValetctlE2eTest, ApplyWaitNamesTheDataPlanesThatNacked) {
  FakeDataPlane good, bad;
  auto client_good = good.Client(server_, "dp-good");
  auto client_bad = bad.Client(server_, "dp-bad");
  client_good->Start();
  client_bad->Start();
  uint64_t v0 = Version();
  ASSERT_TRUE(
      WaitFor([&] { return good.serving() == v0 && bad.serving() == v0; }, absl::Seconds(10)));
  bad.RefuseFrom(v0 + 1);

  RunResult r = Ctl({"apply", "--wait", "-f", WriteApp("a.json", AppJson("a"))});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.err, absl::StrCat("error: data plane dp-bad (127.0.0.1:8000) NACKed version ", v0 + 1,
                                ": fake refusal of version ", v0 + 1, "\n"));

  r = Ctl({"dataplanes"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out,
              HasSubstr(absl::StrCat("version ", v0 + 1, ": fake refusal of version ", v0 + 1)));
}

TEST_F(ValetctlE2eTest, ApplyWaitTimesOutOnASilentDataPlane) {
  FakeDataPlane silent;
  auto client = silent.Client(server_, "dp-silent");
  client->Start();
  // Released before the client goes, whatever happens: a client cannot stop inside an install.
  absl::Cleanup release = [&] { silent.Hold(false); };
  uint64_t v0 = Version();
  ASSERT_TRUE(WaitFor([&] { return silent.serving() == v0; }, absl::Seconds(10)));
  silent.Hold(true);
  RunResult r = Ctl({"--timeout", "1s", "apply", "--wait", "-f", WriteApp("a.json", AppJson("a"))});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, StartsWith(absl::StrCat("error: data plane dp-silent (127.0.0.1:8000) did "
                                             "not answer version ",
                                             v0 + 1, " in time")));
  EXPECT_EQ(Version(), v0 + 1);  // The apply itself landed.
}

TEST_F(ValetctlE2eTest, WatchPrintsVersionsUntilInterrupted) {
  uint64_t v0 = Version();
  std::unique_ptr<Process> watch = StartValetctl({"--server", server_, "watch"});
  ASSERT_NE(watch, nullptr);
  std::string first = absl::StrCat("version ", v0, "\n");
  ASSERT_TRUE(WaitFor([&] { return watch->Stdout() == first; }, absl::Seconds(10)))
      << watch->Stdout() << watch->Stderr();

  ASSERT_EQ(Ctl({"apply", "-f", WriteApp("w.json", AppJson("w"))}).exit_code, 0);
  ASSERT_EQ(Ctl({"delete", "w"}).exit_code, 0);
  std::string expected =
      absl::StrCat(first, "version ", v0 + 1, "  changed: w\nversion ", v0 + 2, "  deleted: w\n");
  EXPECT_TRUE(WaitFor([&] { return watch->Stdout() == expected; }, absl::Seconds(10)))
      << watch->Stdout();

  ASSERT_TRUE(watch->Signal(SIGINT).ok());
  absl::StatusOr<int> code = watch->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << watch->Stderr();
  EXPECT_EQ(watch->Stderr(), "");
}

TEST_F(ValetctlE2eTest, ConcurrentAppliesAllLand) {
  constexpr int kClients = 8;
  uint64_t v0 = Version();
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < kClients; ++i) {
    std::string file = WriteApp(absl::StrCat("c", i, ".json"), AppJson(absl::StrCat("c", i)));
    clients.push_back(StartValetctl({"--server", server_, "apply", "-f", file}));
    ASSERT_NE(clients.back(), nullptr);
  }
  std::set<std::string> outputs;
  for (auto& client : clients) {
    absl::StatusOr<int> code = client->Wait(kRunTimeout);
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << client->Stderr();
    std::string out = client->Stdout();
    outputs.insert(out.substr(out.find("version")));
  }
  EXPECT_EQ(outputs.size(), static_cast<size_t>(kClients));  // Each got its own version.
  v1::ListAppsResponse list = ListApps();
  EXPECT_EQ(list.apps_size(), kClients);
  EXPECT_EQ(list.version(), v0 + kClients);
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(fs::exists(absl::StrCat(conf_dir_, "/c", i, ".json")));
  }
}

TEST_F(ValetctlE2eTest, DeleteDryRunChangesNothing) {
  RunResult r = Ctl({"apply", "-f", WriteApp("a.json", AppJson("a"))});
  ASSERT_EQ(r.exit_code, 0) << r;
  uint64_t v = Version();
  r = Ctl({"delete", "a", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, absl::StrCat("dry run: a can be deleted; nothing changed, version ", v, "\n"));
  EXPECT_TRUE(fs::exists(conf_dir_ + "/a.json"));
  EXPECT_EQ(Version(), v);
  r = Ctl({"delete", "nosuch", "--dry-run"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, StartsWith("error: delete --dry-run nosuch: "));
  r = Ctl({"delete", "a", "--dry-run", "--wait"});
  EXPECT_EQ(r.exit_code, 2) << r;
}

// A real gRPC server on 127.0.0.1 (port picked by the kernel) serving a scripted control plane;
// `*address` is its HOST:PORT. Null if it could not start.
std::unique_ptr<grpc::Server> StartScriptedControlPlane(grpc::Service* service,
                                                        std::string* address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *address = absl::StrCat("127.0.0.1:", port);
  return server;
}

// A control plane that takes changes and never answers them (until released).
class SilentControlService final : public v1::ControlService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ApplyApps(grpc::CallbackServerContext* context,
                                      const v1::ApplyAppsRequest*,
                                      v1::ApplyAppsResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(reactor);
    return reactor;
  }
  void ReleaseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    for (grpc::ServerUnaryReactor* r : held_)
      r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye"));
    held_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_;
};

TEST_F(ValetctlE2eTest, AChangeWithoutAnAnswerMayHaveLanded) {
  SilentControlService service;
  std::string address;
  std::unique_ptr<grpc::Server> server = StartScriptedControlPlane(&service, &address);
  ASSERT_NE(server, nullptr);
  std::string file = WriteApp("a.json", AppJson("a"));
  RunResult r = RunRaw({"--server", address, "--timeout", "1s", "apply", "-f", file});
  service.ReleaseAll();
  server->Shutdown();
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_THAT(r.err, HasSubstr("error: apply: no answer within 1s; the outcome is unknown: the "
                               "change may have landed; check `valetctl version`"));
}

// A control plane that takes a change and dies before it answers (the change may have landed):
// each change it receives is reported, then the test shuts the server down, which cancels the
// call and closes the connection.
class DyingControlService final : public v1::ControlService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ApplyApps(grpc::CallbackServerContext*, const v1::ApplyAppsRequest*,
                                      v1::ApplyAppsResponse*) override {
    return Hold();
  }
  grpc::ServerUnaryReactor* DeleteApp(grpc::CallbackServerContext*, const v1::DeleteAppRequest*,
                                      v1::DeleteAppResponse*) override {
    return Hold();
  }
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext*, const v1::ReloadRequest*,
                                   v1::ReloadResponse*) override {
    return Hold();
  }
  int received() const { return received_.load(); }

 private:
  // Never answers by itself; finishes when the call is cancelled (server shutdown), which lets
  // Shutdown return.
  class Held final : public grpc::ServerUnaryReactor {
    void OnCancel() override { Finish(grpc::Status(grpc::StatusCode::CANCELLED, "")); }
    void OnDone() override { delete this; }
  };
  grpc::ServerUnaryReactor* Hold() {
    received_.fetch_add(1);
    return new Held();
  }
  std::atomic<int> received_{0};
};

TEST_F(ValetctlE2eTest, AChangeLostAfterItWasSentHasAnUnknownOutcome) {
  for (std::vector<std::string> change : std::vector<std::vector<std::string>>{
           {"apply", "-f", WriteApp("a.json", AppJson("a"))}, {"delete", "a"}, {"reload"}}) {
    DyingControlService service;
    std::string address;
    std::unique_ptr<grpc::Server> server = StartScriptedControlPlane(&service, &address);
    ASSERT_NE(server, nullptr);
    change.insert(change.begin(), {"--server", address, "--timeout", "20s"});
    std::unique_ptr<Process> ctl = StartValetctl(change);
    ASSERT_NE(ctl, nullptr);
    bool received = WaitFor([&] { return service.received() == 1; }, absl::Seconds(20));
    // The control plane goes away with the change in hand.
    server->Shutdown(std::chrono::system_clock::now());
    ASSERT_TRUE(received) << ctl->Log();
    absl::StatusOr<int> code = ctl->Wait(kRunTimeout);
    ASSERT_TRUE(code.ok()) << code.status();
    std::string err = ctl->Stderr();
    std::string what = change[4] == "delete" ? "delete a" : change[4];
    EXPECT_EQ(*code, 4) << what << ": " << err;
    EXPECT_THAT(err, StartsWith("error: " + what + ": the change was sent to " + address +
                                ", then the call failed ("))
        << err;
    EXPECT_THAT(err, HasSubstr("the outcome is unknown: the change may have landed; check "
                               "`valetctl version` and `valetctl apps list`"));
    EXPECT_THAT(err, Not(HasSubstr("cannot reach")));
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(ctl->Stdout(), "");
  }
}

// A control plane that applies a change (version 7) and then fails the wait for data planes.
class FailingWaitControlService final : public v1::ControlService::CallbackService {
 public:
  grpc::ServerUnaryReactor* ApplyApps(grpc::CallbackServerContext* context,
                                      const v1::ApplyAppsRequest*,
                                      v1::ApplyAppsResponse* response) override {
    response->set_version(7);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* WaitForVersion(grpc::CallbackServerContext* context,
                                           const v1::WaitForVersionRequest*,
                                           v1::WaitForVersionResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
    return reactor;
  }
};

// The change landed: a failed wait must not look like "nothing was sent" (exit 3).
TEST_F(ValetctlE2eTest, AFailedWaitSaysTheChangeLanded) {
  FailingWaitControlService service;
  std::string address;
  std::unique_ptr<grpc::Server> server = StartScriptedControlPlane(&service, &address);
  ASSERT_NE(server, nullptr);
  RunResult r =
      RunRaw({"--server", address, "apply", "--wait", "-f", WriteApp("a.json", AppJson("a"))});
  server->Shutdown();
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "applied 1 app (a): version 7\n");
  EXPECT_EQ(r.err,
            "error: apply --wait: the change landed as version 7, but waiting for the data planes "
            "failed (shutting down); check `valetctl dataplanes`\n");
}

TEST_F(ValetctlE2eTest, WatchSaysTheControlPlaneStopped) {
  std::unique_ptr<Process> watch = StartValetctl({"--server", server_, "watch"});
  ASSERT_NE(watch, nullptr);
  ASSERT_TRUE(WaitFor([&] { return !watch->Stdout().empty(); }, absl::Seconds(10))) << watch->Log();
  ASSERT_TRUE(control_plane_->Signal(SIGTERM).ok());
  absl::StatusOr<int> code = watch->Wait(kRunTimeout);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3) << watch->Stderr();
  EXPECT_EQ(watch->Stderr(),
            absl::StrCat("error: watch: the control plane at ", server_,
                         " stopped (it shut down, or the connection to it was lost)\n"));
}

// A name no app can have is refused before the call (it used to fail on gRPC's metadata limit).
TEST_F(ValetctlE2eTest, AnInvalidAppNameIsAUsageError) {
  for (const char* command : {"get", "delete"}) {
    std::vector<std::string> args = {std::string(10000, 'n')};
    if (std::string(command) == "get") {
      args.insert(args.begin(), {"apps", "get"});
    } else {
      args.insert(args.begin(), "delete");
    }
    RunResult r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_THAT(r.err, HasSubstr("(10000 characters) is not a valid app name")) << r;
    EXPECT_THAT(r.err, Not(HasSubstr("metadata")));
  }
}

// An app set larger than gRPC's 4 MiB default message: every direction between valetctl and the
// control plane takes it (list and get answers, an apply request).
TEST_F(ValetctlE2eTest, AnAppSetLargerThanGrpcsDefaultMessage) {
  // 24 apps x 120 endpoints x a 1,800-byte path: about 5.3 MB, within every per-app bound
  // (1,024 endpoints, 2 KiB paths).
  constexpr int kApps = 24;
  constexpr int kEndpoints = 120;
  auto app_json = [&](int i, const std::string& description) {
    std::string name = absl::StrCat("big", 10 + i);
    std::vector<std::string> endpoints;
    for (int e = 0; e < kEndpoints; ++e) {
      endpoints.push_back(absl::StrCat(R"({"host": "127.0.0.1", "port": )", 10000 + e,
                                       R"(, "path": "/)", std::string(1800, 'a' + e % 26),
                                       R"("})"));
    }
    return std::make_pair(
        name, absl::StrCat(R"({"name": ")", name, R"(", "description": ")", description,
                           R"(", "endpoints": [)", absl::StrJoin(endpoints, ", "), "]}\n"));
  };
  // Written straight into the conf dir, read at start.
  ASSERT_TRUE(control_plane_->Signal(SIGTERM).ok());
  ASSERT_TRUE(control_plane_->Wait(absl::Seconds(20)).ok());
  size_t bytes = 0;
  for (int i = 0; i < kApps; ++i) {
    auto [name, json] = app_json(i, "on disk");
    bytes += json.size();
    dir_.WriteFile("conf/" + name + ".json", json);
  }
  ASSERT_GT(bytes, size_t{5} << 20);
  StartControlPlane();

  RunResult r = Ctl({"-o", "json", "apps", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GT(r.out.size(), size_t{4} << 20);
  v1::ListAppsResponse list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &list).ok());
  ASSERT_EQ(list.apps_size(), kApps);
  EXPECT_EQ(list.apps(0).endpoints_size(), kEndpoints);
  ASSERT_GT(list.ByteSizeLong(), size_t{4} << 20);

  // Applying all of them again is one request of the same size; the summary stays one short line.
  for (int i = 0; i < kApps; ++i) {
    auto [name, json] = app_json(i, "applied");
    WriteApp("big/" + name + ".json", json);
  }
  uint64_t v0 = Version();
  r = Ctl({"apply", "-f", dir_.Join("in/big")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("applied 24 apps (big10, big11, big12, big13, big14 and 19 more): "
                                "version ",
                                v0 + 1, "\n"));
  list = ListApps();
  ASSERT_EQ(list.apps_size(), kApps);
  EXPECT_EQ(list.apps(kApps - 1).description(), "applied");
}

}  // namespace
}  // namespace valet
