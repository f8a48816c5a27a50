#include "dataplane/tls/server_certificates.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "dataplane/tls/certificate_store.h"
#include "tests/support/process.h"
#include "tests/support/test_pki.h"

namespace valet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;
using testing::TestPki;

class ServerCertificatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(testing::kOpenssl, X_OK) != 0) GTEST_SKIP() << "no openssl command";
    ASSERT_TRUE(pki_.MakeCa().ok());
    ASSERT_TRUE(pki_.Issue("one", "one", "subjectAltName=DNS:one.test,DNS:uno.test\n").ok());
    ASSERT_TRUE(pki_.Issue("two", "two", "subjectAltName=DNS:*.two.test,IP:127.0.0.1\n").ok());
  }
  std::vector<CertificateFiles> Files() {
    return {{pki_.Pem("one"), pki_.Key("one")}, {pki_.Pem("two"), pki_.Key("two")}};
  }

  TempDir dir_;
  TestPki pki_{dir_};
};

TEST_F(ServerCertificatesTest, ReadsDnsNamesAndSelectsBySni) {
  auto set = ServerCertificates::Load(Files());
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)->size(), 2u);
  EXPECT_THAT((*set)->names(0), ElementsAre("one.test", "uno.test"));
  EXPECT_THAT((*set)->names(1), ElementsAre("*.two.test"));
  EXPECT_EQ((*set)->Select("uno.test"), 0u);
  EXPECT_EQ((*set)->Select("a.two.test"), 1u);
  EXPECT_EQ((*set)->Select("two.test"), 0u);      // The wildcard needs a label: the default.
  EXPECT_EQ((*set)->Select("unknown.test"), 0u);  // The default.
}

TEST_F(ServerCertificatesTest, ErrorsNameTheFlagAndThePath) {
  std::string garbage = dir_.WriteFile("garbage.pem", "not PEM\n");
  auto set = ServerCertificates::Load({{garbage, pki_.Key("one")}});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("--tls-cert " + garbage));

  set = ServerCertificates::Load({{pki_.Pem("one"), dir_.Join("nope.key")}});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("--tls-key " + dir_.Join("nope.key")));

  set = ServerCertificates::Load({{pki_.Pem("one"), pki_.Key("two")}});
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("--tls-key " + pki_.Key("two")));
  EXPECT_THAT(set.status().message(), HasSubstr("mismatch"));
  EXPECT_THAT(set.status().message(), Not(HasSubstr("PRIVATE KEY")));
}

TEST_F(ServerCertificatesTest, StoreKeepsTheSetInUseWhenAReloadFails) {
  auto store = CertificateStore::Load(Files());
  ASSERT_TRUE(store.ok()) << store.status();
  std::shared_ptr<const ServerCertificates> before = (*store)->current();
  dir_.WriteFile("one.pem", "broken\n");
  EXPECT_FALSE((*store)->Reload().ok());
  EXPECT_EQ((*store)->current(), before);

  ASSERT_TRUE(pki_.Issue("one", "one", "subjectAltName=DNS:neu.test\n").ok());
  ASSERT_TRUE((*store)->Reload().ok());
  EXPECT_NE((*store)->current(), before);
  EXPECT_THAT((*store)->current()->names(0), ElementsAre("neu.test"));
  // The old set lives on for the connections that hold it.
  EXPECT_THAT(before->names(0), ElementsAre("one.test", "uno.test"));
}

}  // namespace
}  // namespace valet
