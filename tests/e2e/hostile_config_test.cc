// Hostile configs against every entry point that reads one, on the real binaries: JSON nested far
// deeper than any config (which once overflowed the stack while its error was being described),
// a half-written secret (which once was quoted back in the error), and a snapshot cache file that
// is a deeply nested protobuf. Each entry point must refuse the input with a clear error and keep
// running (or, at start, exit with an error code rather than a crash).
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "boost/crc.hpp"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/binaries.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "valet/v1/control.grpc.pb.h"
#include "valet/v1/control.pb.h"

namespace valet {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::valet::testing::HttpClient;
using ::valet::testing::HttpResponse;
using ::valet::testing::Process;
using ::valet::testing::TempDir;
using ::valet::testing::WaitFor;

constexpr absl::Duration kStartTimeout = absl::Seconds(20);
constexpr absl::Duration kRunTimeout = absl::Seconds(30);

// The issue's reproduction: `python3 -c "print('['*100000+']'*100000,end='')"`, 200 KB.
std::string DeepJson() { return std::string(100000, '[') + std::string(100000, ']'); }

// What every refusal of DeepJson() says (common/app_config_json.cc).
constexpr char kDeepError[] = "JSON nested too deeply at line 1, column 33";

// An app config cut off inside its key: the parser must not quote what it read.
constexpr char kSecret[] = "MY-REAL-SECRET-abc123";
std::string HalfWrittenSecret() {
  return absl::StrCat(R"({"name": "x", "authorize": true, "authKey": ")", kSecret);
}

std::string GoodApp(const std::string& name) {
  return absl::StrCat(R"({"name": ")", name,
                      R"(", "endpoints": [{"host": "127.0.0.1", "port": 9050}]})");
}

// The message of a REST error body {"error": {..., "message": "..."}}.
std::string ErrorMessage(const HttpResponse& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() ||
      !j["error"].contains("message") || !j["error"]["message"].is_string()) {
    return "(no error message in: " + r.body + ")";
  }
  return j["error"]["message"].get<std::string>();
}

class HostileConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(conf_dir_); }

  void TearDown() override {
    if (HasFailure() && control_plane_ != nullptr) {
      std::cerr << "valet-controlplane log:\n" << control_plane_->Log() << "\n";
    }
  }

  // Starts valet-controlplane on conf_dir_ (port 0 for both listeners).
  absl::StatusOr<std::unique_ptr<Process>> SpawnControlPlane() {
    absl::StatusOr<std::string> bin = valet::testing::ControlplaneBinary();
    if (!bin.ok()) return bin.status();
    return Process::Start(*bin,
                          {"--conf-dir", conf_dir_, "--grpc-listen", "127.0.0.1:0", "--http-listen",
                           "127.0.0.1:0", "--port-file", dir_.Join("cp-ports")});
  }

  // Starts the control plane and waits for its port file; fails the test if it does not come up.
  void StartControlPlane() {
    absl::StatusOr<std::unique_ptr<Process>> cp = SpawnControlPlane();
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = *std::move(cp);
    auto ports = valet::testing::WaitForPortFile(dir_.Join("cp-ports"), kStartTimeout);
    ASSERT_TRUE(ports.ok()) << ports.status() << "\n" << control_plane_->Log();
    grpc_ = (*ports)["grpc"];
    http_ = (*ports)["http"];
  }

  // The control plane still answers both APIs.
  void ExpectControlPlaneAnswers() {
    ASSERT_NE(control_plane_, nullptr);
    EXPECT_TRUE(control_plane_->Running()) << control_plane_->Log();
    HttpClient admin(http_);
    absl::StatusOr<HttpResponse> version = admin.Get("/v1/version");
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(version->status, 200) << version->body;
    auto stub =
        v1::ControlService::NewStub(grpc::CreateChannel(grpc_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetVersionResponse response;
    grpc::Status status = stub->GetVersion(&context, v1::GetVersionRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  RunResult Valetctl(const std::vector<std::string>& args) {
    RunResult r;
    absl::StatusOr<std::string> bin = valet::testing::ValetctlBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return r;
    auto child = Process::Start(*bin, args,
                                Process::Options{.extra_env = {}, .unset_env = {"VALET_SERVER"}});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return r;
    absl::StatusOr<int> code = (*child)->Wait(kRunTimeout);
    EXPECT_TRUE(code.ok()) << "valetctl did not exit";
    r.exit_code = code.ok() ? *code : -1;
    r.out = (*child)->Stdout();
    r.err = (*child)->Stderr();
    return r;
  }

  TempDir dir_;
  std::string conf_dir_ = dir_.Join("conf");
  std::unique_ptr<Process> control_plane_;
  std::string grpc_;
  std::string http_;
};

TEST_F(HostileConfigTest, RestPutOfDeepJsonIsRefused) {
  StartControlPlane();
  HttpClient admin(http_, absl::Seconds(10));
  absl::StatusOr<HttpResponse> put =
      admin.Send("PUT", "/v1/apps/x", {{"Content-Type", "application/json"}}, DeepJson());
  ASSERT_TRUE(put.ok()) << put.status() << "\n" << control_plane_->Log();
  EXPECT_EQ(put->status, 400) << put->body;
  EXPECT_THAT(ErrorMessage(*put), HasSubstr(absl::StrCat("request: ", kDeepError)));
  ExpectControlPlaneAnswers();
}

TEST_F(HostileConfigTest, RestPutOfHalfWrittenSecretDoesNotQuoteIt) {
  StartControlPlane();
  HttpClient admin(http_, absl::Seconds(10));
  absl::StatusOr<HttpResponse> put = admin.Send("PUT", "/v1/apps/x", {}, HalfWrittenSecret());
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->status, 400) << put->body;
  EXPECT_THAT(ErrorMessage(*put), HasSubstr("request: invalid JSON at line 1, column "));
  EXPECT_THAT(ErrorMessage(*put), HasSubstr("(in authKey)"));
  EXPECT_THAT(put->body, Not(HasSubstr("abc123")));
  EXPECT_THAT(control_plane_->Log(), Not(HasSubstr("abc123")));
  ExpectControlPlaneAnswers();
}

// gRPC carries binary protobuf, not JSON: the deep form is 100,000 nested groups of an unknown
// field, which protobuf's parser must refuse at its recursion limit (100) instead of recursing.
TEST_F(HostileConfigTest, GrpcApplyAppsWithDeeplyNestedMessageIsRefused) {
  StartControlPlane();
  std::string bytes;
  for (int i = 0; i < 100000; ++i) bytes += "\x9b\x06";  // Field 99, start group.
  for (int i = 0; i < 100000; ++i) bytes += "\x9c\x06";  // Field 99, end group.
  grpc::GenericStub stub(grpc::CreateChannel(grpc_, grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  auto call = stub.PrepareUnaryCall(&context, "/valet.v1.ControlService/ApplyApps", request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));  // Bounded by the call's deadline.
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  ExpectControlPlaneAnswers();
}

TEST_F(HostileConfigTest, ValetctlApplyOfDeepJsonIsRefusedLocally) {
  StartControlPlane();
  std::string deep = dir_.WriteFile("deep.json", DeepJson());
  RunResult r = Valetctl({"--server", grpc_, "apply", "-f", deep});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("error: ", deep, ": ", kDeepError)));
  ExpectControlPlaneAnswers();
}

TEST_F(HostileConfigTest, ControlPlaneRefusesToStartOnDeepJson) {
  std::string deep = dir_.WriteFile("conf/deep.json", DeepJson());
  absl::StatusOr<std::unique_ptr<Process>> cp = SpawnControlPlane();
  ASSERT_TRUE(cp.ok()) << cp.status();
  absl::StatusOr<int> code = (*cp)->Wait(kStartTimeout);
  ASSERT_TRUE(code.ok()) << "still running with an invalid conf dir:\n" << (*cp)->Log();
  EXPECT_EQ(*code, 1) << (*cp)->Log();  // Not -11 (SIGSEGV).
  EXPECT_THAT((*cp)->Stderr(), HasSubstr("cannot start"));
  EXPECT_THAT((*cp)->Stderr(), HasSubstr(absl::StrCat(deep, ": ", kDeepError)));
}

TEST_F(HostileConfigTest, ReloadOfDeepJsonIsRefusedAndKeepsTheApps) {
  dir_.WriteFile("conf/good.json", GoodApp("good"));
  StartControlPlane();
  std::string deep = dir_.WriteFile("conf/deep.json", DeepJson());
  HttpClient admin(http_, absl::Seconds(10));
  absl::StatusOr<HttpResponse> reload = admin.Send("POST", "/v1/reload");
  ASSERT_TRUE(reload.ok()) << reload.status() << "\n" << control_plane_->Log();
  EXPECT_EQ(reload->status, 400) << reload->body;
  EXPECT_THAT(ErrorMessage(*reload), HasSubstr(absl::StrCat(deep, ": ", kDeepError)));
  ExpectControlPlaneAnswers();
  absl::StatusOr<HttpResponse> apps = admin.Get("/v1/apps/good");
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_EQ(apps->status, 200) << apps->body;
}

TEST_F(HostileConfigTest, ValetctlValidateOfDeepJsonReportsIt) {
  std::string deep = dir_.WriteFile("deep.json", DeepJson());
  RunResult r = Valetctl({"validate", "-f", deep});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat("error: ", deep, ": ", kDeepError)));
}

TEST_F(HostileConfigTest, ValetctlValidateOfHalfWrittenSecretDoesNotQuoteIt) {
  std::string file = dir_.WriteFile("x.json", HalfWrittenSecret());
  RunResult r = Valetctl({"validate", "-f", file});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(absl::StrCat(file, ": invalid JSON at line 1, column ")));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("abc123")));
}

class HostileDataplaneTest : public valet::testing::DataplaneTest {};

// A standalone data plane reloads its conf dir on SIGHUP: a deep file is refused and the old
// config keeps serving.
TEST_F(HostileDataplaneTest, SighupWithDeepJsonKeepsServingTheOldConfig) {
  auto backend = StartBackend("a");
  ASSERT_NE(backend, nullptr);
  WriteApp("a", valet::testing::AppJson("a", {backend->port()}));
  StartDataplane();
  WriteApp("deep", DeepJson());
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  ASSERT_TRUE(WaitFor([&] { return Metric(R"(valet_config_reloads_total{result="error"})") >= 1; },
                      absl::Seconds(10)))
      << dataplane_->Log();
  EXPECT_TRUE(dataplane_->Running()) << dataplane_->Log();
  EXPECT_THAT(dataplane_->Log(), HasSubstr("reload refused"));
  EXPECT_THAT(dataplane_->Log(), HasSubstr(absl::StrCat("deep.json: ", kDeepError)));
  HttpClient client = Client();
  absl::StatusOr<HttpResponse> res = client.Get("/a/still-there");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
}

// The snapshot cache (dataplane/snapshot_cache.h) is binary protobuf behind a header with its
// length and CRC-32, read at start: a well-framed file of 100,000 nested groups must be refused
// by protobuf's recursion limit, and the data plane must come up without it.
TEST_F(HostileDataplaneTest, DeeplyNestedSnapshotCacheIsRefusedAtStart) {
  std::string payload;
  for (int i = 0; i < 100000; ++i) payload += "\x9b\x06";  // Field 99, start group.
  for (int i = 0; i < 100000; ++i) payload += "\x9c\x06";  // Field 99, end group.
  boost::crc_32_type crc;
  crc.process_bytes(payload.data(), payload.size());
  std::string bytes = "VLTSNAP1";
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i)
    bytes.push_back(static_cast<char>((crc.checksum() >> (8 * i)) & 0xff));
  bytes += payload;
  std::string cache = dir_.WriteFile("cache/snapshot.binpb", bytes);
  absl::StatusOr<std::string> bin = valet::testing::DataplaneBinary();
  ASSERT_TRUE(bin.ok()) << bin.status();
  // Port 1 on loopback: no control plane answers, so the cache is all it could serve.
  auto process =
      Process::Start(*bin, {"--control-plane", "127.0.0.1:1", "--cache-dir", dir_.Join("cache"),
                            "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                            "--port-file", dir_.Join("ports"), "--workers", "1"});
  ASSERT_TRUE(process.ok()) << process.status();
  dataplane_ = *std::move(process);
  auto ports = valet::testing::WaitForPortFile(dir_.Join("ports"), kStartTimeout);
  ASSERT_TRUE(ports.ok()) << ports.status() << "\n" << dataplane_->Log();
  admin_ = (*ports)["admin"];
  absl::StatusOr<HttpResponse> health = Admin("/healthz");
  ASSERT_TRUE(health.ok()) << health.status() << "\n" << dataplane_->Log();
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(dataplane_->Running());
  EXPECT_THAT(dataplane_->Log(), HasSubstr(absl::StrCat(cache, ": the snapshot does not parse")));
}

}  // namespace
}  // namespace valet
