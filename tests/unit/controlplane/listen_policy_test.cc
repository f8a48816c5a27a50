// Closed by default: which listen addresses the control plane accepts with which protection, and
// the role table of its calls.
#include "controlplane/listen_policy.h"

#include "controlplane/access_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace valet {
namespace {

using ::testing::HasSubstr;

TEST(ListenPolicyTest, LoopbackNeedsNothing) {
  for (const char* grpc : {"127.0.0.1:9090", "127.0.0.1:0", "[::1]:9090", "localhost:0"}) {
    EXPECT_TRUE(CheckListenPolicy({grpc, "127.0.0.1:9091"}).ok()) << grpc;
  }
  EXPECT_TRUE(CheckListenPolicy({"127.0.0.1:9090", ""}).ok());
}

TEST(ListenPolicyTest, EveryInterfaceWithoutTlsAndTokensIsRefusedNamingTheFlags) {
  absl::Status s = CheckListenPolicy({"0.0.0.0:9090", "127.0.0.1:9091"});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("0.0.0.0:9090"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("--tls-cert and --tls-key"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("--tokens-file"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("--insecure"));

  ListenSecurity tls_only{":9090", "127.0.0.1:9091", /*tls=*/true, /*tokens=*/false};
  s = CheckListenPolicy(tls_only);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("without tokens: set --tokens-file,"));
  ListenSecurity tokens_only{"0.0.0.0:9090", "127.0.0.1:9091", /*tls=*/false, /*tokens=*/true};
  EXPECT_FALSE(CheckListenPolicy(tokens_only).ok());
}

TEST(ListenPolicyTest, TlsAndTokensOpenTheGrpcPortButNotTheRestAdmin) {
  EXPECT_TRUE(CheckListenPolicy({"0.0.0.0:9090", "127.0.0.1:9091", true, true}).ok());
  absl::Status s = CheckListenPolicy({"0.0.0.0:9090", "0.0.0.0:9091", true, true});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("REST admin on 0.0.0.0:9091"));
}

TEST(ListenPolicyTest, InsecureAllowsItAndStillSaysWhatIsExposed) {
  ListenSecurity s{"0.0.0.0:9090", "0.0.0.0:9091", false, false, /*insecure=*/true};
  EXPECT_TRUE(CheckListenPolicy(s).ok());
  std::string what;
  EXPECT_TRUE(ExposedWithoutProtection(s, &what));
  EXPECT_THAT(what, HasSubstr("gRPC API on 0.0.0.0:9090"));
  EXPECT_THAT(what, HasSubstr("REST admin on 0.0.0.0:9091"));
  EXPECT_FALSE(ExposedWithoutProtection({"127.0.0.1:9090", "127.0.0.1:9091"}, &what));
}

TEST(ListenPolicyTest, AnUnparsableAddressIsAnError) {
  EXPECT_EQ(CheckListenPolicy({"nonsense", ""}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(AccessTableTest, EveryCallHasItsRole) {
  for (const char* m : {"ListApps", "GetApp", "GetVersion", "ListDataPlanes", "WatchVersions",
                        "WaitForVersion", "GetLimits"}) {
    EXPECT_EQ(RoleForGrpcMethod(std::string("/valet.v1.ControlService/") + m), TokenRole::kRead)
        << m;
  }
  for (const char* m : {"ApplyApps", "DeleteApp", "Reload", "Validate", "SetMockMode",
                        "RecordMocks", "SomethingNew"}) {
    EXPECT_EQ(RoleForGrpcMethod(std::string("/valet.v1.ControlService/") + m), TokenRole::kAdmin)
        << m;
  }
  EXPECT_EQ(RoleForGrpcMethod("/valet.v1.AttachService/Attach"), TokenRole::kDataplane);
  EXPECT_EQ(RoleForRestRoute("GET", "/v1/apps"), TokenRole::kRead);
  EXPECT_EQ(RoleForRestRoute("GET", "/v1/limits"), TokenRole::kRead);
  EXPECT_EQ(RoleForRestRoute("HEAD", "/v1/version"), TokenRole::kRead);
  EXPECT_EQ(RoleForRestRoute("PUT", "/v1/apps/x"), TokenRole::kAdmin);
  EXPECT_EQ(RoleForRestRoute("DELETE", "/v1/apps/x"), TokenRole::kAdmin);
  EXPECT_EQ(RoleForRestRoute("POST", "/v1/reload"), TokenRole::kAdmin);
}

}  // namespace
}  // namespace valet
