// Security end to end (docs/security.md): the real valet-controlplane, valet-dataplane and valetctl
// binaries with tokens and TLS. Tokens: every role through valetctl and the REST admin, data planes
// attaching with a dataplane token (and not with another), SIGHUP reloads, the data plane's admin
// listener. Secure defaults: refusal of a non-loopback listener without TLS and tokens, messages
// too large cut off while the process keeps serving. TLS: valetctl and data planes over TLS, a
// client certificate standing in for a dataplane token, a certificate rotated under an attached
// data plane. Every log and answer is grepped for the tokens used.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"
#include "tests/support/dataplane_process.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "vt-admin-3b9f1c77e0a24d";
constexpr char kReadToken[] = "vt-read-52ad90e61f7b3c";
constexpr char kDataplaneToken[] = "vt-dp-c81e4f2a9d0b65";
constexpr char kUnknownToken[] = "vt-nobody-0000aaaa1111";

std::string TokenLine(const std::string& name, const std::string& role, const std::string& token) {
  return absl::StrCat(name, " ", role, " ", Sha256Hex(token), "\n");
}

std::string AllTokens() {
  return absl::StrCat("# test tokens\n", TokenLine("ops", "admin", kAdminToken),
                      TokenLine("grafana", "read", kReadToken),
                      TokenLine("dp-fleet", "dataplane", kDataplaneToken));
}

struct CtlResult {
  int code = -1;
  std::string output;
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    dir_.WriteFile("conf/one.json", AppJson("one", {backend_->port()}));
    tokens_file_ = dir_.WriteFile("tokens", AllTokens());
    admin_file_ = dir_.WriteFile("admin.token", std::string(kAdminToken) + "\n");
    read_file_ = dir_.WriteFile("read.token", std::string(kReadToken) + "\n");
    dp_file_ = dir_.WriteFile("dp.token", std::string(kDataplaneToken) + "\n");
    unknown_file_ = dir_.WriteFile("unknown.token", std::string(kUnknownToken) + "\n");
  }

  void TearDown() override {
    // No token may appear in any log or answer of the run.
    std::vector<std::string> texts = transcript_;
    if (control_plane_ != nullptr) texts.push_back(control_plane_->Log());
    for (const auto& dp : dataplanes_) texts.push_back(dp->Log());
    for (const std::string& text : texts) {
      for (const char* token : {kAdminToken, kReadToken, kDataplaneToken, kUnknownToken}) {
        EXPECT_THAT(text, Not(HasSubstr(token)));
        EXPECT_THAT(text, Not(HasSubstr(Sha256Hex(token))));
      }
    }
  }

  void StartControlPlane(std::vector<std::string> extra = {}) {
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), 0, extra);
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_ = cp->grpc;
    http_ = cp->http;
  }

  // Starts a data plane attached to the control plane; returns its proxy listener.
  std::string StartDataplane(const std::string& id, std::vector<std::string> extra) {
    auto dp = StartAttachedDataplaneProcess(grpc_, id, dir_.Join(id + ".ports"), extra);
    EXPECT_TRUE(dp.ok()) << dp.status();
    if (!dp.ok()) return "";
    dataplanes_.push_back(std::move(dp->process));
    return dp->listen;
  }

  CtlResult Valetctl(std::vector<std::string> args, std::vector<std::string> env = {}) {
    CtlResult r;
    auto bin = ValetctlBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return r;
    args.insert(args.begin(), {"--server", grpc_, "--timeout", "10s"});
    Process::Options options;
    options.extra_env = std::move(env);
    options.unset_env = {"VALET_TOKEN", "VALET_SERVER"};
    auto p = Process::Start(*bin, args, options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return r;
    auto code = (*p)->Wait(absl::Seconds(30));
    EXPECT_TRUE(code.ok()) << code.status();
    r.code = code.ok() ? *code : -1;
    r.output = (*p)->Log();
    transcript_.push_back(r.output);
    return r;
  }

  absl::StatusOr<HttpResponse> Rest(const std::string& method, const std::string& target,
                                    const std::string& token, const std::string& body = "") {
    HttpClient client(http_);
    HeaderList headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto res = client.Send(method, target, headers, body);
    if (res.ok()) transcript_.push_back(res->body);
    return res;
  }

  // True once `dp` (a proxy listener) answers `target` with `status`.
  bool WaitAnswers(const std::string& listen, const std::string& target, int status) {
    return WaitFor(
        [&] {
          HttpClient client(listen, absl::Seconds(2));
          auto res = client.Get(target);
          return res.ok() && res->status == status;
        },
        absl::Seconds(20));
  }

  // The ids the control plane lists as connected (through REST with the read token).
  std::string DataPlanesJson() {
    auto res = Rest("GET", "/v1/dataplanes", kReadToken);
    return res.ok() ? res->body : "";
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::vector<std::unique_ptr<Process>> dataplanes_;
  std::vector<std::string> transcript_;  // valetctl outputs and REST answers.
  std::string grpc_, http_;
  std::string tokens_file_, admin_file_, read_file_, dp_file_, unknown_file_;
};

TEST_F(SecurityTest, ValetctlGetsWhatItsRoleMayDo) {
  StartControlPlane({"--tokens-file", tokens_file_});
  std::string app = dir_.WriteFile("new/two.json", AppJson("two", {backend_->port()}));

  // No token: UNAUTHENTICATED, with a one-line hint.
  CtlResult none = Valetctl({"apps", "list"});
  EXPECT_EQ(none.code, 1) << none.output;
  EXPECT_THAT(none.output, HasSubstr("a token is required"));
  EXPECT_THAT(none.output, HasSubstr("hint: the control plane wants a token: pass --token-file"));
  CtlResult unknown = Valetctl({"--token-file", unknown_file_, "version"});
  EXPECT_EQ(unknown.code, 1) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("unknown token"));
  EXPECT_THAT(unknown.output, HasSubstr("hint:"));

  // Read: looks, cannot change.
  CtlResult list = Valetctl({"--token-file", read_file_, "apps", "list"});
  EXPECT_EQ(list.code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("one"));
  CtlResult refused = Valetctl({"--token-file", read_file_, "apply", "-f", app});
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_THAT(refused.output,
              HasSubstr("token grafana has the role read, which may not call ApplyApps"));
  EXPECT_THAT(refused.output, Not(HasSubstr("hint:")));

  // Dataplane: attach only.
  CtlResult dp = Valetctl({"--token-file", dp_file_, "apps", "list"});
  EXPECT_EQ(dp.code, 1) << dp.output;
  EXPECT_THAT(dp.output, HasSubstr("may not call ListApps"));

  // Admin, from $VALET_TOKEN: every call, the wait after an apply included.
  std::vector<std::string> env = {absl::StrCat("VALET_TOKEN=", kAdminToken)};
  CtlResult applied = Valetctl({"apply", "-f", app, "--wait"}, env);
  EXPECT_EQ(applied.code, 0) << applied.output;
  CtlResult get = Valetctl({"apps", "get", "two"}, env);
  EXPECT_EQ(get.code, 0) << get.output;
  // --token-file wins over $VALET_TOKEN.
  CtlResult file_wins = Valetctl({"--token-file", read_file_, "delete", "two"}, env);
  EXPECT_EQ(file_wins.code, 1) << file_wins.output;

  // Refusals are logged with the token's name (never the token).
  std::string log = control_plane_->Log();
  EXPECT_THAT(log, HasSubstr("refused /valet.v1.ControlService/ApplyApps"));
  EXPECT_THAT(log, HasSubstr("(token grafana)"));
  EXPECT_THAT(log, HasSubstr("refused /valet.v1.ControlService/ListApps"));
  EXPECT_THAT(log, HasSubstr("(no valid token): unknown token"));
}

TEST_F(SecurityTest, RestAdminChecksTheSameTokens) {
  StartControlPlane({"--tokens-file", tokens_file_});
  auto none = Rest("GET", "/v1/apps", "");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->status, 401);
  EXPECT_THAT(none->body, HasSubstr(R"("code":"UNAUTHENTICATED")"));
  auto unknown = Rest("GET", "/v1/version", kUnknownToken);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 401);

  auto read = Rest("GET", "/v1/apps", kReadToken);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, 200) << read->body;
  std::string two = AppJson("two", {backend_->port()});
  auto put_read = Rest("PUT", "/v1/apps/two", kReadToken, two);
  ASSERT_TRUE(put_read.ok());
  EXPECT_EQ(put_read->status, 403) << put_read->body;
  EXPECT_THAT(put_read->body, HasSubstr(R"("code":"PERMISSION_DENIED")"));
  auto dp = Rest("GET", "/v1/apps", kDataplaneToken);
  ASSERT_TRUE(dp.ok());
  EXPECT_EQ(dp->status, 403);

  auto put_admin = Rest("PUT", "/v1/apps/two", kAdminToken, two);
  ASSERT_TRUE(put_admin.ok());
  EXPECT_EQ(put_admin->status, 200) << put_admin->body;
  auto del_none = Rest("DELETE", "/v1/apps/two", "");
  ASSERT_TRUE(del_none.ok());
  EXPECT_EQ(del_none->status, 401);
  auto get = Rest("GET", "/v1/apps/two", kReadToken);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 200) << "the refused DELETE must not have deleted";
  EXPECT_THAT(control_plane_->Log(), HasSubstr("refused PUT /v1/apps/two (token grafana)"));
}

TEST_F(SecurityTest, DataPlanesAttachWithADataplaneTokenOnly) {
  StartControlPlane({"--tokens-file", tokens_file_});
  std::string good = StartDataplane("dp-good", {"--token-file", dp_file_});
  std::string bad = StartDataplane("dp-read", {"--token-file", read_file_});
  std::string none = StartDataplane("dp-none", {});
  ASSERT_TRUE(WaitAnswers(good, "/one/x", 200)) << dataplanes_[0]->Log();
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string log = control_plane_->Log();
        return log.find("refused /valet.v1.AttachService/Attach") != std::string::npos &&
               log.find("(token grafana)") != std::string::npos &&
               log.find("(no valid token): a token is required") != std::string::npos;
      },
      absl::Seconds(20)))
      << control_plane_->Log();
  std::string planes = DataPlanesJson();
  EXPECT_THAT(planes, HasSubstr("dp-good"));
  EXPECT_THAT(planes, Not(HasSubstr("dp-read")));
  EXPECT_THAT(planes, Not(HasSubstr("dp-none")));
  // Never attached: no snapshot, nothing served.
  HttpClient client(bad, absl::Seconds(2));
  auto res = client.Get("/one/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_NE(res->status, 200);
}

TEST_F(SecurityTest, SighupReloadsTokensAndABadFileKeepsTheOldOnes) {
  StartControlPlane({"--tokens-file", tokens_file_});
  auto before = Rest("GET", "/v1/version", kReadToken);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->status, 200);

  // The read token is revoked.
  dir_.WriteFile("tokens", absl::StrCat(TokenLine("ops", "admin", kAdminToken),
                                        TokenLine("dp-fleet", "dataplane", kDataplaneToken)));
  ASSERT_TRUE(control_plane_->Signal(SIGHUP).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto res = Rest("GET", "/v1/version", kReadToken);
        return res.ok() && res->status == 401;
      },
      absl::Seconds(10)))
      << control_plane_->Log();
  EXPECT_THAT(control_plane_->Log(), HasSubstr("2 tokens"));

  // A broken file: refused, logged with the reason, the tokens in use stay.
  dir_.WriteFile("tokens", "ops admin not-a-digest\n");
  ASSERT_TRUE(control_plane_->Signal(SIGHUP).ok());
  EXPECT_TRUE(WaitFor(
      [&] { return control_plane_->Log().find("kept the tokens in use") != std::string::npos; },
      absl::Seconds(10)));
  EXPECT_THAT(control_plane_->Log(), HasSubstr(":1: token ops: the third field must be"));
  auto admin = Rest("GET", "/v1/version", kAdminToken);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->status, 200);
  EXPECT_TRUE(control_plane_->Running());
}

TEST_F(SecurityTest, NonLoopbackListenersWithoutTlsAndTokensAreRefused) {
  auto bin = ControlplaneBinary();
  ASSERT_TRUE(bin.ok());
  auto refused = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--grpc-listen",
                                       "0.0.0.0:0", "--http-listen", "127.0.0.1:0"});
  ASSERT_TRUE(refused.ok());
  auto code = (*refused)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  std::string log = (*refused)->Log();
  EXPECT_THAT(log, HasSubstr("refusing to start"));
  EXPECT_THAT(log, HasSubstr("--tls-cert and --tls-key"));
  EXPECT_THAT(log, HasSubstr("--tokens-file"));
  EXPECT_THAT(log, HasSubstr("--insecure"));

  // Tokens alone are not enough beyond loopback; nor is a REST admin on every interface.
  auto tokens_only =
      Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--grpc-listen", ":0", "--http-listen",
                            "127.0.0.1:0", "--tokens-file", tokens_file_});
  ASSERT_TRUE(tokens_only.ok());
  code = (*tokens_only)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  auto rest = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--grpc-listen", "127.0.0.1:0",
                                    "--http-listen", "0.0.0.0:0"});
  ASSERT_TRUE(rest.ok());
  code = (*rest)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  EXPECT_THAT((*rest)->Log(), HasSubstr("REST admin on 0.0.0.0:0"));

  // --insecure starts it, with a warning.
  StartControlPlane({"--grpc-listen", "0.0.0.0:0", "--insecure"});
  EXPECT_THAT(control_plane_->Log(), HasSubstr("W controlplane: --insecure: the gRPC API on"));
}

TEST_F(SecurityTest, OversizedMessagesAreCutOffAndTheControlPlaneKeepsServing) {
  StartControlPlane();
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(grpc_, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::ControlService::NewStub(channel);

  // A message beyond kMaxGrpcMessageBytes (40 MiB).
  v1::ApplyAppsRequest big;
  v1::AppConfig* app = big.add_apps();
  app->set_name("big");
  app->set_description(std::string(41 << 20, 'x'));
  v1::ApplyAppsResponse applied;
  grpc::ClientContext big_context;
  big_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = stub->ApplyApps(&big_context, big, &applied);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();

  // Metadata beyond the 16 KiB limit.
  grpc::ClientContext fat_context;
  fat_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fat_context.AddMetadata("x-padding", std::string(64 << 10, 'p'));
  v1::GetVersionResponse version;
  status = stub->GetVersion(&fat_context, {}, &version);
  EXPECT_FALSE(status.ok());

  // The process goes on serving, on a new connection and on the old channel.
  EXPECT_TRUE(control_plane_->Running());
  auto fresh =
      v1::ControlService::NewStub(grpc::CreateChannel(grpc_, grpc::InsecureChannelCredentials()));
  EXPECT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        return fresh->GetVersion(&context, {}, &version).ok();
      },
      absl::Seconds(10)));
  EXPECT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        return stub->GetVersion(&context, {}, &version).ok();
      },
      absl::Seconds(10)));
  grpc::ClientContext get_context;
  v1::GetAppRequest get;
  get.set_name("big");
  v1::GetAppResponse got;
  EXPECT_EQ(fresh->GetApp(&get_context, get, &got).error_code(), grpc::StatusCode::NOT_FOUND)
      << "the big app must not have landed";
}

class DataplaneAdminTokensTest : public DataplaneTest {};

TEST_F(DataplaneAdminTokensTest, MetricsNeedAReadTokenProbesStayOpen) {
  auto backend = StartBackend("b");
  WriteApp("one", AppJson("one", {backend->port()}));
  std::string tokens = dir_.WriteFile("admin-tokens", AllTokens());
  StartDataplane({"--admin-tokens-file", tokens});
  HttpClient admin(admin_);
  auto get = [&](const std::string& path, const std::string& token) {
    HeaderList headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto res = admin.Get(path, headers);
    EXPECT_TRUE(res.ok()) << res.status();
    if (res.ok()) {
      EXPECT_THAT(res->body, Not(HasSubstr(token.empty() ? "\x01" : token)));
    }
    return res.ok() ? res->status : -1;
  };
  EXPECT_EQ(get("/healthz", ""), 200);
  EXPECT_TRUE(WaitFor([&] { return get("/readyz", "") == 200; }, absl::Seconds(10)));
  EXPECT_EQ(get("/metrics", ""), 401);
  EXPECT_EQ(get("/metrics", kUnknownToken), 401);
  EXPECT_EQ(get("/metrics", kDataplaneToken), 403);
  EXPECT_EQ(get("/metrics", kReadToken), 200);
  EXPECT_EQ(get("/metrics", kAdminToken), 200);

  // SIGHUP re-reads the file.
  dir_.WriteFile("admin-tokens", TokenLine("ops", "admin", kAdminToken));
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  EXPECT_TRUE(WaitFor([&] { return get("/metrics", kReadToken) == 401; }, absl::Seconds(10)));
  EXPECT_EQ(get("/metrics", kAdminToken), 200);
  std::string log = dataplane_->Log();
  EXPECT_THAT(log, HasSubstr("refused /metrics (token dp-fleet)"));
  for (const char* token : {kAdminToken, kReadToken, kDataplaneToken, kUnknownToken}) {
    EXPECT_THAT(log, Not(HasSubstr(token)));
  }
}

}  // namespace
}  // namespace valet::testing
