// Auth end to end (docs/config.md "Consumers", docs/dataplane.md "Request path"): a standalone
// data plane from a conf dir, a real backend that records what reaches it. Missing, wrong and
// right keys; consumers with plain and hashed keys; the credential header removed (or forwarded
// with forwardAuthHeader); X-Valet-Consumer set by the gateway only; the 401 JSON answers; the
// auth failures metric; an open app untouched; no key in the log or the metrics.
#include <string>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "tests/e2e/dataplane_fixture.h"

namespace valet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAppKey[] = "seed-key-7d2e91";
constexpr char kAliceKey[] = "alice-key-c04b6a";
constexpr char kBobKey[] = "bob-key-19fe73";  // Configured as its SHA-256 only.
constexpr char kWrongKey[] = "alice-key-c04b6b";

// Consumers alice (plain key) and bob (hashed key), and the seed's anonymous authKey.
std::string ShopAuth(bool forward) {
  return absl::StrCat(R"("authorize": true, "authKey": ")", kAppKey, R"(", )",
                      R"("consumers": [{"name": "alice", "key": ")", kAliceKey,
                      R"(", "limitValue": 100}, {"name": "bob", "keySha256": ")",
                      Sha256Hex(kBobKey), R"("}], )",
                      forward ? R"("forwardAuthHeader": true, )" : "");
}

class DataplaneAuthTest : public DataplaneTest {
 protected:
  void SetUp() override {
    backend_ = StartBackend("b1");
    ASSERT_NE(backend_, nullptr);
    WriteApp("shop", AppJson("shop", {backend_->port()}, ShopAuth(false)));
    WriteApp("fwd", AppJson("fwd", {backend_->port()},
                            absl::StrCat(ShopAuth(true), R"("authHeader": "X-Api-Key",)")));
    WriteApp("open", AppJson("open", {backend_->port()}));
    StartDataplane();
  }

  void TearDown() override {
    // No key reaches the data plane's log or its metrics.
    if (dataplane_ == nullptr) return;
    std::string metrics;
    if (auto res = Admin("/metrics"); res.ok()) metrics = res->body;
    for (const char* key : {kAppKey, kAliceKey, kBobKey, kWrongKey}) {
      EXPECT_THAT(dataplane_->Log(), Not(HasSubstr(key)));
      EXPECT_THAT(metrics, Not(HasSubstr(key)));
    }
  }

  // The one request the backend saw since the last call.
  RecordedRequest LastBackendRequest() {
    std::vector<RecordedRequest> requests = backend_->requests();
    backend_->ClearRequests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? RecordedRequest() : requests.back();
  }

  std::unique_ptr<TestBackend> backend_;
};

TEST_F(DataplaneAuthTest, MissingKeyIs401AndNeverReachesTheBackend) {
  auto res = Client().Get("/shop/items");
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 401, "missing_credentials");
  EXPECT_THAT(res->body, HasSubstr("\"app\":\"shop\""));
  EXPECT_THAT(res->body, HasSubstr("X-Valet-Auth"));
  EXPECT_EQ(res->Header("WWW-Authenticate"), "ApiKey header=\"X-Valet-Auth\"");
  EXPECT_EQ(backend_->request_count(), 0u);
  EXPECT_TRUE(WaitForMetric(R"(valet_auth_failures_total{app="shop",reason="missing"})", 1));
  EXPECT_EQ(Metric(R"(valet_auth_failures_total{app="shop",reason="invalid"})"), 0);
  EXPECT_TRUE(WaitForMetric(R"(valet_requests_total{app="shop",class="4xx"})", 1));
}

TEST_F(DataplaneAuthTest, WrongKeyIs401InvalidCredentials) {
  HttpClient client = Client();
  for (int i = 0; i < 3; ++i) {
    auto res = client.Get("/shop/items", {{"X-Valet-Auth", kWrongKey}});
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_GATEWAY_ERROR(*res, 401, "invalid_credentials");
    EXPECT_THAT(res->body, Not(HasSubstr(kWrongKey)));
  }
  // The key of another app's header does not count either.
  auto res = client.Get("/fwd/items", {{"X-Valet-Auth", kAliceKey}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_GATEWAY_ERROR(*res, 401, "missing_credentials");
  EXPECT_EQ(backend_->request_count(), 0u);
  EXPECT_TRUE(WaitForMetric(R"(valet_auth_failures_total{app="shop",reason="invalid"})", 3));
  EXPECT_TRUE(WaitForMetric(R"(valet_auth_failures_total{app="fwd",reason="missing"})", 1));
}

TEST_F(DataplaneAuthTest, TheSeedKeyPassesAnonymously) {
  auto res =
      Client().Get("/shop/items?x=1", {{"X-Valet-Auth", kAppKey}, {"X-Valet-Consumer", "alice"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  RecordedRequest seen = LastBackendRequest();
  EXPECT_EQ(seen.target, "/items?x=1");
  EXPECT_EQ(seen.HeaderCount("X-Valet-Auth"), 0u);
  EXPECT_EQ(seen.HeaderCount("X-Valet-Consumer"), 0u);  // Anonymous: no name, no spoofed one.
}

TEST_F(DataplaneAuthTest, ConsumersWithPlainAndHashedKeysAreNamedToTheBackend) {
  HttpClient client = Client();
  auto alice = client.Get("/shop/a", {{"X-Valet-Auth", kAliceKey}});
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->status, 200) << alice->body;
  RecordedRequest seen = LastBackendRequest();
  EXPECT_EQ(seen.Header("X-Valet-Consumer"), "alice");
  EXPECT_EQ(seen.HeaderCount("X-Valet-Auth"), 0u);

  auto bob = client.Get("/shop/b", {{"x-valet-auth", kBobKey}});
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_EQ(bob->status, 200) << bob->body;
  seen = LastBackendRequest();
  EXPECT_EQ(seen.Header("X-Valet-Consumer"), "bob");
  EXPECT_EQ(seen.HeaderCount("X-Valet-Auth"), 0u);

  // Bob's configured digest is not a key.
  auto digest = client.Get("/shop/b", {{"X-Valet-Auth", Sha256Hex(kBobKey)}});
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_GATEWAY_ERROR(*digest, 401, "invalid_credentials");
}

TEST_F(DataplaneAuthTest, XValetConsumerCannotBeSpoofed) {
  auto res = Client().Get(
      "/shop/a",
      {{"X-Valet-Consumer", "admin"}, {"X-Valet-Auth", kBobKey}, {"x-valet-consumer", "alice"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  RecordedRequest seen = LastBackendRequest();
  EXPECT_EQ(seen.HeaderCount("X-Valet-Consumer"), 1u);
  EXPECT_EQ(seen.Header("X-Valet-Consumer"), "bob");
}

TEST_F(DataplaneAuthTest, ForwardAuthHeaderPassesTheKeyOn) {
  auto res = Client().Get("/fwd/a", {{"X-Api-Key", kAliceKey}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  RecordedRequest seen = LastBackendRequest();
  EXPECT_EQ(seen.Header("X-Api-Key"), kAliceKey);
  EXPECT_EQ(seen.Header("X-Valet-Consumer"), "alice");
}

TEST_F(DataplaneAuthTest, AnOpenAppIsUntouched) {
  auto res = Client().Get("/open/a", {{"X-Valet-Auth", "anything"}});
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->status, 200) << res->body;
  RecordedRequest seen = LastBackendRequest();
  EXPECT_EQ(seen.Header("X-Valet-Auth"), "anything");
  EXPECT_EQ(Metric(R"(valet_auth_failures_total{app="open",reason="missing"})"), -1);
}

}  // namespace
}  // namespace valet::testing
