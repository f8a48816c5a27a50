// The data plane's HTTPS listener end to end: certificates made at test time (openssl), chosen
// by SNI, re-read on SIGHUP under traffic, refused when bad, and handshakes that never finish
// cut off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/raw_connection.h"
#include "tests/support/test_pki.h"
#include "tests/support/tls_backend.h"
#include "tests/support/tls_http_client.h"

namespace valet::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kCurl[] = "/usr/bin/curl";

class DataplaneHttpsTest : public DataplaneTest {
 protected:
  void SetUp() override {
    if (::access(kOpenssl, X_OK) != 0) GTEST_SKIP() << kOpenssl << " is missing";
    ASSERT_TRUE(pki_.MakeCa().ok());
    ASSERT_TRUE(IssueFor("alpha", "alpha-1", "DNS:alpha.test").ok());
    ASSERT_TRUE(IssueFor("beta", "beta-1", "DNS:*.beta.test").ok());
    backend_ = StartBackend("b1");
    ASSERT_NE(backend_, nullptr);
    WriteApp("one", AppJson("one", {backend_->port()}));
  }

  absl::Status IssueFor(const std::string& name, const std::string& cn, const std::string& san) {
    return pki_.Issue(name, cn, absl::StrCat("subjectAltName=", san, "\n"));
  }

  void StartHttps(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--tls-listen", "127.0.0.1:0",
                                     "--tls-cert",   pki_.Pem("alpha") + "," + pki_.Pem("beta"),
                                     "--tls-key",    pki_.Key("alpha") + "," + pki_.Key("beta")};
    args.insert(args.end(), extra.begin(), extra.end());
    StartDataplane(args);
    ASSERT_FALSE(tls_listen_.empty()) << dataplane_->Log();
  }

  int TlsPort() const {
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(tls_listen_.substr(tls_listen_.rfind(':') + 1), &port));
    return port;
  }

  // Runs a tool to its end; its exit code and output.
  std::pair<int, std::string> Run(const std::string& bin, std::vector<std::string> args) {
    auto p = Process::Start(bin, std::move(args));
    if (!p.ok()) return {-1, std::string(p.status().message())};
    auto code = (*p)->Wait(absl::Seconds(30));
    return {code.ok() ? *code : -1, (*p)->Log()};
  }

  TestPki pki_{dir_};
  std::unique_ptr<TestBackend> backend_;
};

TEST_F(DataplaneHttpsTest, ServesEachNameItsCertificateAndForwardsProtoHttps) {
  StartHttps();
  TlsHttpClient alpha(tls_listen_, "alpha.test", pki_.ca_pem());
  auto res = alpha.Get("/one/hello");
  ASSERT_TRUE(res.ok()) << res.status() << dataplane_->Log();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(alpha.PeerCommonName(), "alpha-1");
  // The backend is told the client came over HTTPS.
  ASSERT_TRUE(backend_->WaitForRequests(1, absl::Seconds(5)));
  EXPECT_EQ(backend_->requests().back().Header("X-Forwarded-Proto"), "https");

  // A wildcard name.
  TlsHttpClient beta(tls_listen_, "api.beta.test", pki_.ca_pem());
  res = beta.Get("/one/hello");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(beta.PeerCommonName(), "beta-1");

  // No certificate has the name: the first one answers (not verified here: it cannot match).
  TlsHttpClient other(tls_listen_, "other.test", "");
  res = other.Get("/one/hello");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(other.PeerCommonName(), "alpha-1");

  // Keep-alive over TLS.
  res = alpha.Get("/one/again");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_TRUE(res->reused_connection);
  EXPECT_EQ(alpha.connections(), 1);

  // The plain listener still says http.
  backend_->ClearRequests();
  auto plain = Client().Get("/one/plain");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(backend_->WaitForRequests(1, absl::Seconds(5)));
  EXPECT_EQ(backend_->requests().back().Header("X-Forwarded-Proto"), "http");
}

TEST_F(DataplaneHttpsTest, CurlAndOpensslSeeTheCertificateOfTheirName) {
  if (::access(kCurl, X_OK) != 0) GTEST_SKIP() << kCurl << " is missing";
  StartHttps();
  std::string port = absl::StrCat(TlsPort());
  for (auto [name, cn] : {std::pair{"alpha.test", "alpha-1"}, std::pair{"x.beta.test", "beta-1"}}) {
    auto [code, out] =
        Run(kCurl, {"-sS", "--resolve", absl::StrCat(name, ":", port, ":127.0.0.1"), "--cacert",
                    pki_.ca_pem(), "-o", "/dev/null", "-w", "status=%{http_code}",
                    absl::StrCat("https://", name, ":", port, "/one/x")});
    EXPECT_EQ(code, 0) << out;
    EXPECT_THAT(out, HasSubstr("status=200")) << name;

    auto [s_code, s_out] = Run(kOpenssl, {"s_client", "-connect", tls_listen_, "-servername", name,
                                          "-CAfile", pki_.ca_pem(), "-verify_return_error"});
    EXPECT_EQ(s_code, 0) << s_out;
    EXPECT_THAT(s_out, HasSubstr(absl::StrCat("CN = ", cn))) << name;
    EXPECT_THAT(s_out, HasSubstr("Verify return code: 0 (ok)")) << name;
  }
  // Old protocol versions are refused.
  auto [old_code, old_out] =
      Run(kOpenssl, {"s_client", "-connect", tls_listen_, "-tls1_1", "-cipher", "ALL:@SECLEVEL=0"});
  EXPECT_NE(old_code, 0) << old_out;
  // A TLS 1.2 client offering only a CBC (non-AEAD) cipher is refused too.
  auto [weak_code, weak_out] = Run(kOpenssl, {"s_client", "-connect", tls_listen_, "-tls1_2",
                                              "-cipher", "ECDHE-ECDSA-AES128-SHA"});
  EXPECT_NE(weak_code, 0) << weak_out;
}

TEST_F(DataplaneHttpsTest, SighupRotatesCertificatesWithoutFailingARequest) {
  StartHttps();
  TlsHttpClient live(tls_listen_, "alpha.test", pki_.ca_pem());
  auto first = live.Get("/one/live");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(live.PeerCommonName(), "alpha-1");

  // A client loop: a new connection (handshake) per request, until told to stop.
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0}, failures{0};
  std::atomic<bool> saw_new{false};
  std::string last_error;
  std::thread loop([&] {
    for (int i = 0; i < 5000 && !stop; ++i) {
      TlsHttpClient client(tls_listen_, "alpha.test", pki_.ca_pem());
      auto res = client.Get("/one/loop");
      ++requests;
      if (!res.ok() || res->status != 200) {
        ++failures;
        last_error = res.ok() ? absl::StrCat("status ", res->status) : res.status().ToString();
        continue;
      }
      if (client.PeerCommonName() == "alpha-2") saw_new = true;
    }
  });
  ASSERT_TRUE(WaitFor([&] { return requests >= 5; }, absl::Seconds(20)));

  // Issue the new pair beside the old one, move it in place, tell the data plane.
  ASSERT_TRUE(IssueFor("alpha-next", "alpha-2", "DNS:alpha.test").ok());
  ASSERT_EQ(std::rename(pki_.Key("alpha-next").c_str(), pki_.Key("alpha").c_str()), 0);
  ASSERT_EQ(std::rename(pki_.Pem("alpha-next").c_str(), pki_.Pem("alpha").c_str()), 0);
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  bool rotated = WaitFor([&] { return saw_new.load(); }, absl::Seconds(20));
  int at_rotation = requests;
  // A few more handshakes after the new certificate is seen.
  WaitFor([&] { return requests >= at_rotation + 5; }, absl::Seconds(10));
  stop = true;
  loop.join();
  EXPECT_TRUE(rotated) << dataplane_->Log();
  EXPECT_EQ(failures, 0) << last_error;

  // The connection made before the rotation is still up, on its old certificate.
  auto again = live.Get("/one/live");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused_connection);
  EXPECT_EQ(live.PeerCommonName(), "alpha-1");
  EXPECT_EQ(live.connections(), 1);
}

TEST_F(DataplaneHttpsTest, BadCertificateOnSighupKeepsTheOldOnes) {
  StartHttps();
  dir_.WriteFile("alpha.pem", "not a certificate\n");
  ASSERT_TRUE(dataplane_->Signal(SIGHUP).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return dataplane_->Log().find("kept the TLS certificates in use") != std::string::npos;
      },
      absl::Seconds(10)))
      << dataplane_->Log();
  EXPECT_THAT(dataplane_->Log(), HasSubstr(pki_.Pem("alpha")));
  TlsHttpClient alpha(tls_listen_, "alpha.test", pki_.ca_pem());
  auto res = alpha.Get("/one/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(alpha.PeerCommonName(), "alpha-1");
  EXPECT_TRUE(dataplane_->Running());
}

TEST_F(DataplaneHttpsTest, BadCertificateAtStartIsAClearError) {
  auto bin = DataplaneBinary();
  ASSERT_TRUE(bin.ok());
  std::string missing = dir_.Join("missing.pem");
  auto p = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--listen", "127.0.0.1:0",
                                 "--admin-listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
                                 "--tls-cert", missing, "--tls-key", pki_.Key("alpha")});
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*p)->Log(), HasSubstr("--tls-cert " + missing));

  // A key that is not the certificate's.
  auto q = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--listen", "127.0.0.1:0",
                                 "--admin-listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
                                 "--tls-cert", pki_.Pem("alpha"), "--tls-key", pki_.Key("beta")});
  ASSERT_TRUE(q.ok());
  code = (*q)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*q)->Log(), HasSubstr("--tls-key " + pki_.Key("beta")));
}

TEST_F(DataplaneHttpsTest, HandshakeThatNeverFinishesIsCutOff) {
  StartHttps({"--tls-handshake-timeout-ms", "300"});
  auto conn = RawConnection::Connect("127.0.0.1", TlsPort(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  // Half a ClientHello record header, then silence.
  ASSERT_TRUE((*conn)->Write(std::string("\x16\x03\x01", 3), absl::Seconds(2)).ok());
  auto rest = (*conn)->ReadToEnd(absl::Seconds(10));
  EXPECT_TRUE(rest.ok()) << rest.status();  // Closed by the data plane, well before 10 s.
  EXPECT_TRUE(WaitForMetric("valet_tls_handshake_failures_total", 1));
  // The listener still serves.
  TlsHttpClient alpha(tls_listen_, "alpha.test", pki_.ca_pem());
  auto res = alpha.Get("/one/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200);
}

// Backends of scheme https: verified against the app's CA file (certificate and name), pooled.
class HttpsBackendTest : public DataplaneTest {
 protected:
  void SetUp() override {
    if (::access(kOpenssl, X_OK) != 0) GTEST_SKIP() << kOpenssl << " is missing";
    ASSERT_TRUE(pki_.MakeCa().ok());
    ASSERT_TRUE(other_.MakeCa().ok());
    ASSERT_TRUE(pki_.Issue("good", "good", "subjectAltName=DNS:localhost,IP:127.0.0.1\n").ok());
    ASSERT_TRUE(pki_.Issue("misnamed", "misnamed", "subjectAltName=DNS:elsewhere.test\n").ok());
    ASSERT_TRUE(other_.Issue("stranger", "stranger", "subjectAltName=DNS:localhost\n").ok());
  }

  std::unique_ptr<TlsBackend> StartTlsBackend(const std::string& name, TestPki& pki) {
    auto backend = TlsBackend::Start(name, pki.Pem(name), pki.Key(name));
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  std::string HttpsApp(const std::string& name, const std::string& host, int port) {
    return absl::StrCat(R"({"name": ")", name, R"(", "backendCaFile": ")", pki_.ca_pem(),
                        R"(", "endpoints": [{"host": ")", host, R"(", "port": )", port,
                        R"(, "scheme": "https"}]})", "\n");
  }

  TestPki pki_{dir_};
  TestPki other_{dir_, "other-ca"};
};

TEST_F(HttpsBackendTest, VerifiedBackendIsUsedAndItsConnectionsPooled) {
  auto good = StartTlsBackend("good", pki_);
  ASSERT_NE(good, nullptr);
  WriteApp("byname", HttpsApp("byname", "localhost", good->port()));
  WriteApp("byip", HttpsApp("byip", "127.0.0.1", good->port()));
  StartDataplane({"--workers", "1"});
  HttpClient client = Client();
  for (int i = 0; i < 5; ++i) {
    auto res = client.Get("/byname/x");
    ASSERT_TRUE(res.ok()) << res.status() << dataplane_->Log();
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_THAT(res->body, HasSubstr(R"("backend":"good")"));
    EXPECT_THAT(res->body, HasSubstr(R"("forwarded_proto":"http")"));
  }
  auto res = client.Get("/byip/x");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  // Keep-alive to the backend: one TLS connection per app's endpoint, reused.
  EXPECT_EQ(good->requests(), 6);
  EXPECT_EQ(good->connections(), 2);
}

TEST_F(HttpsBackendTest, WrongCertificateIs502AndCounted) {
  auto stranger = StartTlsBackend("stranger", other_);  // Signed by another CA.
  auto misnamed = StartTlsBackend("misnamed", pki_);    // Our CA, another name.
  ASSERT_NE(stranger, nullptr);
  ASSERT_NE(misnamed, nullptr);
  WriteApp("untrusted", HttpsApp("untrusted", "localhost", stranger->port()));
  WriteApp("wrongname", HttpsApp("wrongname", "localhost", misnamed->port()));
  StartDataplane();
  for (const char* app : {"untrusted", "wrongname"}) {
    auto res = Client().Get(absl::StrCat("/", app, "/x"));
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GATEWAY_ERROR(*res, 502, "backend_tls_failed");
    EXPECT_TRUE(WaitFor(
        [&] {
          return Metric(absl::StrCat(R"(valet_upstream_errors_total{app=")", app,
                                     R"(",kind="tls"})")) >= 1;
        },
        absl::Seconds(10)))
        << app;
  }
  EXPECT_EQ(stranger->requests(), 0);
  EXPECT_EQ(misnamed->requests(), 0);
}

TEST_F(HttpsBackendTest, UnreadableCaFileIsRefusedWithItsJsonPath) {
  WriteApp("bad", absl::StrCat(R"({"name": "bad", "backendCaFile": ")", dir_.Join("nope.pem"),
                               R"(", "endpoints": [{"host": "localhost", "port": 1, )",
                               R"("scheme": "https"}]})"));
  auto bin = DataplaneBinary();
  ASSERT_TRUE(bin.ok());
  auto p = Process::Start(*bin, {"--conf-dir", dir_.Join("conf"), "--listen", "127.0.0.1:0",
                                 "--admin-listen", "127.0.0.1:0"});
  ASSERT_TRUE(p.ok());
  auto code = (*p)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*p)->Log(), HasSubstr("backendCaFile"));
  EXPECT_THAT((*p)->Log(), HasSubstr(dir_.Join("nope.pem")));
}

}  // namespace
}  // namespace valet::testing
