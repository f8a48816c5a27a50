// TLS between the planes, end to end: certificates made at test time with the openssl command
// line (a CA, a server certificate for 127.0.0.1 and localhost, a client certificate), a control
// plane on every interface with TLS, mTLS and tokens, valetctl and data planes dialing it over TLS,
// and a server certificate rotated while a data plane stays attached.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"
#include "tests/support/dataplane_process.h"
#include "tests/support/test_pki.h"

namespace valet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "vt-tls-admin-77c2e91d04";
constexpr char kDataplaneToken[] = "vt-tls-dp-a03f5b8e12";

struct CtlResult {
  int code = -1;
  std::string output;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::access(kOpenssl, X_OK), 0)
        << kOpenssl << " is missing: bash scripts/install-deps.sh installs it";
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    dir_.WriteFile("conf/one.json", AppJson("one", {backend_->port()}));
    tokens_ = dir_.WriteFile(
        "tokens", absl::StrCat("ops admin ", Sha256Hex(kAdminToken), "\n", "fleet dataplane ",
                               Sha256Hex(kDataplaneToken), "\n"));
    admin_token_ = dir_.WriteFile("admin.token", kAdminToken);
    dp_token_ = dir_.WriteFile("dp.token", kDataplaneToken);
    ASSERT_TRUE(pki_.MakeCa().ok());
    ASSERT_TRUE(pki_.IssueServer("server", "valet-server-1").ok());
    ASSERT_TRUE(pki_.IssueClient("dp-client").ok());
  }

  void TearDown() override {
    std::vector<std::string> logs = transcript_;
    if (control_plane_ != nullptr) logs.push_back(control_plane_->Log());
    for (const auto& dp : dataplanes_) logs.push_back(dp->Log());
    for (const std::string& log : logs) {
      EXPECT_THAT(log, Not(HasSubstr(kAdminToken)));
      EXPECT_THAT(log, Not(HasSubstr(kDataplaneToken)));
      EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
    }
  }

  // The control plane on every interface (allowed: TLS and tokens), reached at 127.0.0.1.
  void StartControlPlane() {
    auto cp =
        StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"), 0,
                                 {"--grpc-listen", "0.0.0.0:0", "--tls-cert", pki_.Pem("server"),
                                  "--tls-key", pki_.Key("server"), "--tls-client-ca", pki_.ca_pem(),
                                  "--tokens-file", tokens_, "--tls-refresh-seconds", "1"});
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    auto host_port = SplitHostPort(cp->grpc);
    ASSERT_TRUE(host_port.ok()) << cp->grpc;
    port_ = host_port->second;
    grpc_ = absl::StrCat("127.0.0.1:", port_);
    http_ = cp->http;
  }

  std::string StartDataplane(const std::string& id, std::vector<std::string> extra) {
    auto dp = StartAttachedDataplaneProcess(grpc_, id, dir_.Join(id + ".ports"), extra);
    EXPECT_TRUE(dp.ok()) << dp.status();
    if (!dp.ok()) return "";
    dataplanes_.push_back(std::move(dp->process));
    return dp->listen;
  }

  CtlResult Valetctl(std::vector<std::string> args);

  bool WaitAnswers(const std::string& listen, const std::string& target, int status) {
    return WaitFor(
        [&] {
          HttpClient client(listen, absl::Seconds(2));
          auto res = client.Get(target);
          return res.ok() && res->status == status;
        },
        absl::Seconds(20));
  }

  std::string DataPlanesJson() {
    HttpClient client(http_);
    auto res =
        client.Get("/v1/dataplanes", {{"Authorization", std::string("Bearer ") + kAdminToken}});
    return res.ok() ? res->body : "";
  }

  // The subject the control plane's port presents now (openssl s_client).
  std::string ServedSubject() {
    auto p = Process::Start(
        kOpenssl, {"s_client", "-connect", grpc_, "-CAfile", pki_.ca_pem(), "-alpn", "h2"});
    if (!p.ok()) return "";
    if (!(*p)->Wait(absl::Seconds(10)).ok()) return "";
    std::string out = (*p)->Stdout();
    size_t at = out.find("subject=");
    if (at == std::string::npos) return "";
    return out.substr(at, out.find('\n', at) - at);
  }

  TempDir dir_;
  TestPki pki_{dir_};
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::vector<std::unique_ptr<Process>> dataplanes_;
  std::vector<std::string> transcript_;
  std::string tokens_, admin_token_, dp_token_;
  std::string grpc_, http_;
  int port_ = 0;
};

CtlResult TlsTest::Valetctl(std::vector<std::string> args) {
  CtlResult r;
  auto bin = ValetctlBinary();
  EXPECT_TRUE(bin.ok());
  if (!bin.ok()) return r;
  args.insert(args.begin(), {"--server", grpc_, "--timeout", "5s"});
  Process::Options options;
  options.unset_env = {"VALET_TOKEN", "VALET_SERVER"};
  auto p = Process::Start(*bin, args, options);
  EXPECT_TRUE(p.ok());
  if (!p.ok()) return r;
  auto code = (*p)->Wait(absl::Seconds(30));
  r.code = code.ok() ? *code : -1;
  r.output = (*p)->Log();
  transcript_.push_back(r.output);
  return r;
}

TEST_F(TlsTest, ValetctlAndDataPlanesSpeakTlsAndMutualTls) {
  StartControlPlane();
  CtlResult ok = Valetctl({"--tls-ca", pki_.ca_pem(), "--token-file", admin_token_, "version"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  CtlResult plain = Valetctl({"--token-file", admin_token_, "version"});
  EXPECT_EQ(plain.code, 3) << "plain text to a TLS port must not get through\n" << plain.output;
  CtlResult no_token = Valetctl({"--tls-ca", pki_.ca_pem(), "apps", "list"});
  EXPECT_EQ(no_token.code, 1) << no_token.output;
  EXPECT_THAT(no_token.output, HasSubstr("hint:"));
  // A client certificate stands in for a dataplane token only: not for the control API.
  CtlResult cert_only = Valetctl({"--tls-ca", pki_.ca_pem(), "--tls-cert", pki_.Pem("dp-client"),
                                  "--tls-key", pki_.Key("dp-client"), "apps", "list"});
  EXPECT_EQ(cert_only.code, 1) << cert_only.output;

  // A data plane with a client certificate and no token; one with a token and no certificate;
  // one with neither; one that does not trust the control plane's CA.
  std::string by_cert = StartDataplane(
      "dp-cert", {"--control-tls-ca", pki_.ca_pem(), "--control-tls-cert", pki_.Pem("dp-client"),
                  "--control-tls-key", pki_.Key("dp-client")});
  std::string by_token =
      StartDataplane("dp-token", {"--control-tls-ca", pki_.ca_pem(), "--token-file", dp_token_});
  StartDataplane("dp-anon", {"--control-tls-ca", pki_.ca_pem()});
  TestPki other(dir_, "other-ca");
  ASSERT_TRUE(other.MakeCa().ok());
  StartDataplane("dp-wrong-ca", {"--control-tls-ca", other.ca_pem(), "--token-file", dp_token_});
  ASSERT_TRUE(WaitAnswers(by_cert, "/one/x", 200)) << dataplanes_[0]->Log();
  ASSERT_TRUE(WaitAnswers(by_token, "/one/x", 200)) << dataplanes_[1]->Log();
  EXPECT_TRUE(WaitFor(
      [&] {
        return control_plane_->Log().find("refused /valet.v1.AttachService/Attach") !=
               std::string::npos;
      },
      absl::Seconds(20)));
  std::string planes = DataPlanesJson();
  EXPECT_THAT(planes, HasSubstr("dp-cert"));
  EXPECT_THAT(planes, HasSubstr("dp-token"));
  EXPECT_THAT(planes, Not(HasSubstr("dp-anon")));
  EXPECT_THAT(planes, Not(HasSubstr("dp-wrong-ca")));
}

TEST_F(TlsTest, ARotatedCertificateServesNewHandshakesWithoutDroppingDataPlanes) {
  StartControlPlane();
  std::string dp = StartDataplane(
      "dp-cert", {"--control-tls-ca", pki_.ca_pem(), "--control-tls-cert", pki_.Pem("dp-client"),
                  "--control-tls-key", pki_.Key("dp-client")});
  ASSERT_TRUE(WaitAnswers(dp, "/one/x", 200)) << dataplanes_[0]->Log();
  ASSERT_THAT(ServedSubject(), HasSubstr("valet-server-1"));

  // A new pair, moved into place atomically (rename), as the docs ask.
  ASSERT_TRUE(pki_.IssueServer("server-2", "valet-server-2").ok());
  ASSERT_EQ(std::rename(pki_.Key("server-2").c_str(), pki_.Key("server").c_str()), 0);
  ASSERT_EQ(std::rename(pki_.Pem("server-2").c_str(), pki_.Pem("server").c_str()), 0);
  EXPECT_TRUE(WaitFor([&] { return ServedSubject().find("valet-server-2") != std::string::npos; },
                      absl::Seconds(20)))
      << ServedSubject();

  // The attached data plane never re-attached, and still takes new versions.
  std::string two = dir_.WriteFile("new/two.json", AppJson("two", {backend_->port()}));
  CtlResult applied = Valetctl(
      {"--tls-ca", pki_.ca_pem(), "--token-file", admin_token_, "apply", "-f", two, "--wait"});
  EXPECT_EQ(applied.code, 0) << applied.output;
  EXPECT_TRUE(WaitAnswers(dp, "/two/x", 200));
  std::string log = dataplanes_[0]->Log();
  size_t attaches = 0;
  for (size_t at = log.find("attached to control plane"); at != std::string::npos;
       at = log.find("attached to control plane", at + 1)) {
    ++attaches;
  }
  EXPECT_EQ(attaches, 1u) << log;
}

TEST_F(TlsTest, WatchOverTlsWithATokenEndsOnInterrupt) {
  StartControlPlane();
  auto bin = ValetctlBinary();
  ASSERT_TRUE(bin.ok());
  Process::Options options;
  options.unset_env = {"VALET_TOKEN", "VALET_SERVER"};
  // The token rides on a stream too, and TLS set up before the watch blocks SIGINT must not let
  // gRPC's threads take it.
  auto watch = Process::Start(
      *bin, {"--server", grpc_, "--tls-ca", pki_.ca_pem(), "--token-file", admin_token_, "watch"},
      options);
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(WaitFor([&] { return (*watch)->Stdout().find("version ") != std::string::npos; },
                      absl::Seconds(10)))
      << (*watch)->Log();
  ASSERT_TRUE((*watch)->Signal(SIGINT).ok());
  auto code = (*watch)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << (*watch)->Log();
  transcript_.push_back((*watch)->Log());
}

}  // namespace
}  // namespace valet::testing
