// Keys in the control plane end to end (docs/security.md "Keys"): the real valet-controlplane,
// an attached valet-dataplane, valetctl and the REST admin. Every answer shows keys redacted;
// get, edit, apply (valetctl and REST) keeps the stored keys, so the data plane still accepts
// them after the change; a redacted value that stands for no stored key is refused; the conf file
// keeps the real key. Every log and answer of the run is grepped for the keys.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/conf_dir.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "tests/e2e/dataplane_fixture.h"
#include "tests/support/control_plane_process.h"
#include "tests/support/dataplane_process.h"

namespace valet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAppKey[] = "cp-seed-key-5a1f0e";
constexpr char kAliceKey[] = "cp-alice-key-e83b27";
constexpr char kBobKey[] = "cp-bob-key-40c9d1";  // In the config as its SHA-256 only.

std::string Marker(const std::string& key) {
  return absl::StrCat("<redacted sha256:", Sha256Hex(key).substr(0, 8), ">");
}

struct CtlResult {
  int code = -1;
  std::string output;
};

class AuthRedactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = TestBackend::Start();
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    dir_.WriteFile("conf/shop.json",
                   AppJson("shop", {backend_->port()},
                           absl::StrCat(R"("authorize": true, "authKey": ")", kAppKey,
                                        R"(", "consumers": [{"name": "alice", "key": ")", kAliceKey,
                                        R"("}, {"name": "bob", "keySha256": ")", Sha256Hex(kBobKey),
                                        R"("}],)")));
    auto cp = StartControlPlaneProcess(dir_.Join("conf"), dir_.Join("cp.ports"));
    ASSERT_TRUE(cp.ok()) << cp.status();
    control_plane_ = std::move(cp->process);
    grpc_ = cp->grpc;
    http_ = cp->http;
    auto dp = StartAttachedDataplaneProcess(grpc_, "dp-1", dir_.Join("dp.ports"));
    ASSERT_TRUE(dp.ok()) << dp.status();
    dataplane_ = std::move(dp->process);
    listen_ = dp->listen;
  }

  void TearDown() override {
    std::vector<std::string> texts = transcript_;
    if (control_plane_) texts.push_back(control_plane_->Log());
    if (dataplane_) texts.push_back(dataplane_->Log());
    for (const std::string& text : texts) {
      for (const char* key : {kAppKey, kAliceKey, kBobKey}) {
        EXPECT_THAT(text, Not(HasSubstr(key)));
      }
    }
  }

  CtlResult Valetctl(std::vector<std::string> args) {
    CtlResult r;
    auto bin = ValetctlBinary();
    EXPECT_TRUE(bin.ok()) << bin.status();
    if (!bin.ok()) return r;
    args.insert(args.begin(), {"--server", grpc_, "--timeout", "10s"});
    Process::Options options;
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
                                    const std::string& body = "") {
    HttpClient client(http_);
    auto res = client.Send(method, target, {}, body);
    if (res.ok()) transcript_.push_back(res->body);
    return res;
  }

  // The status the data plane answers a request to /shop/x carrying `key`.
  int StatusWithKey(const std::string& key) {
    HttpClient client(listen_, absl::Seconds(5));
    auto res = client.Get("/shop/x", {{"X-Valet-Auth", key}});
    if (!res.ok()) return -1;
    transcript_.push_back(res->body);
    return res->status;
  }

  TempDir dir_;
  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<Process> control_plane_;
  std::unique_ptr<Process> dataplane_;
  std::string grpc_, http_, listen_;
  std::vector<std::string> transcript_;
};

TEST_F(AuthRedactionTest, AnswersRedactKeysAndGetEditApplyKeepsThem) {
  ASSERT_TRUE(WaitFor([&] { return StatusWithKey(kAppKey) == 200; }, absl::Seconds(20)))
      << dataplane_->Log();

  // Every way of reading the app shows markers, and the hashed key as it is.
  CtlResult get = Valetctl({"-o", "json", "apps", "get", "shop"});
  ASSERT_EQ(get.code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr(absl::StrCat(R"("authKey": ")", Marker(kAppKey), R"(")")));
  EXPECT_THAT(get.output, HasSubstr(absl::StrCat(R"("key": ")", Marker(kAliceKey), R"(")")));
  EXPECT_THAT(get.output, HasSubstr(Sha256Hex(kBobKey)));
  CtlResult table = Valetctl({"apps", "get", "shop"});
  EXPECT_THAT(table.output, HasSubstr(Marker(kAppKey)));
  CtlResult list = Valetctl({"-o", "json", "apps", "list"});
  EXPECT_THAT(list.output, HasSubstr(Marker(kAliceKey)));
  auto rest_get = Rest("GET", "/v1/apps/shop");
  ASSERT_TRUE(rest_get.ok()) << rest_get.status();
  EXPECT_THAT(rest_get->body, HasSubstr(Marker(kAppKey)));
  auto rest_list = Rest("GET", "/v1/apps");
  ASSERT_TRUE(rest_list.ok()) << rest_list.status();
  EXPECT_THAT(rest_list->body, HasSubstr(Marker(kAliceKey)));

  // Edit what get printed and apply it: the keys stay, the edit lands.
  std::string edited = absl::StrReplaceAll(get.output, {{"test app", "edited by valetctl"}});
  ASSERT_NE(edited, get.output);
  std::string file = dir_.WriteFile("edit/shop.json", edited);
  CtlResult applied = Valetctl({"apply", "-f", file, "--wait"});
  ASSERT_EQ(applied.code, 0) << applied.output << control_plane_->Log();
  CtlResult after = Valetctl({"-o", "json", "apps", "get", "shop"});
  EXPECT_THAT(after.output, HasSubstr("edited by valetctl"));
  EXPECT_THAT(after.output, HasSubstr(Marker(kAppKey)));
  EXPECT_EQ(StatusWithKey(kAppKey), 200);
  EXPECT_EQ(StatusWithKey(kAliceKey), 200);
  EXPECT_EQ(StatusWithKey(kBobKey), 200);
  EXPECT_EQ(StatusWithKey(Marker(kAppKey)), 401);  // The marker itself is no key.
  backend_->ClearRequests();
  ASSERT_EQ(StatusWithKey(kAliceKey), 200);
  ASSERT_EQ(backend_->requests().size(), 1u);
  EXPECT_EQ(backend_->requests()[0].Header("X-Valet-Consumer"), "alice");

  // The same through the REST admin.
  std::string rest_edit = absl::StrReplaceAll(rest_get->body, {{"test app", "edited over REST"}});
  auto put = Rest("PUT", "/v1/apps/shop", rest_edit);
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(StatusWithKey(kAliceKey), 200);
  EXPECT_EQ(StatusWithKey(kAppKey), 200);

  // The conf file keeps the real keys.
  absl::StatusOr<std::string> on_disk = ReadFile(dir_.Join("conf/shop.json"));
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_THAT(*on_disk, HasSubstr(kAppKey));
  EXPECT_THAT(*on_disk, HasSubstr(kAliceKey));
  EXPECT_THAT(*on_disk, HasSubstr("edited over REST"));
}

TEST_F(AuthRedactionTest, AMarkerThatStandsForNoStoredKeyIsRefused) {
  // A new app cannot take another app's marker; a consumer cannot take another one's.
  std::string other =
      AppJson("other", {backend_->port()},
              absl::StrCat(R"("authorize": true, "authKey": ")", Marker(kAppKey), R"(",)"));
  std::string file = dir_.WriteFile("edit/other.json", other);
  CtlResult refused = Valetctl({"apply", "-f", file});
  EXPECT_NE(refused.code, 0) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("authKey: is a redacted value that stands for no"));

  std::string swapped = AppJson("shop", {backend_->port()},
                                absl::StrCat(R"("authorize": true, "authKey": ")", Marker(kAppKey),
                                             R"(", "consumers": [{"name": "mallory", "key": ")",
                                             Marker(kAliceKey), R"("}],)"));
  auto put = Rest("PUT", "/v1/apps/shop", swapped);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->status, 400) << put->body;
  EXPECT_THAT(put->body, HasSubstr("consumers[0].key"));
  // Nothing changed: alice still gets in.
  EXPECT_TRUE(WaitFor([&] { return StatusWithKey(kAliceKey) == 200; }, absl::Seconds(20)));
}

}  // namespace
}  // namespace valet::testing
