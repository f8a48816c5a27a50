// An app's compiled credentials: which apps have them, the anonymous authKey consumer, consumers
// with plain and hashed keys (either case of hex), and keys that are nearly right.
#include "dataplane/auth/credentials.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "common/sha256.h"

namespace valet {
namespace {

v1::AppConfig AuthApp() {
  v1::AppConfig app;
  app.set_name("shop");
  app.set_authorize(true);
  return app;
}

v1::Consumer* AddConsumer(v1::AppConfig& app, const std::string& name) {
  v1::Consumer* c = app.add_consumers();
  c->set_name(name);
  return c;
}

TEST(AppCredentialsTest, AnOpenAppHasNone) {
  v1::AppConfig app = AuthApp();
  app.set_authorize(false);
  app.set_auth_key("a-key-nobody-checks");
  EXPECT_EQ(AppCredentials::Compile(app), nullptr);
}

TEST(AppCredentialsTest, TheSeedKeyIsTheAnonymousConsumer) {
  v1::AppConfig app = AuthApp();
  app.set_auth_key("thisismyauth");
  auto credentials = AppCredentials::Compile(app);
  ASSERT_NE(credentials, nullptr);
  EXPECT_EQ(credentials->header(), "X-Valet-Auth");
  EXPECT_FALSE(credentials->forward_header());
  const ConsumerRoute* consumer = credentials->Find("thisismyauth");
  ASSERT_NE(consumer, nullptr);
  EXPECT_EQ(consumer->name, "");
  EXPECT_EQ(consumer->limit_value, 0u);
  EXPECT_EQ(credentials->Find("thisismyaut"), nullptr);
  EXPECT_EQ(credentials->Find("thisismyauth "), nullptr);
  EXPECT_EQ(credentials->Find("THISISMYAUTH"), nullptr);
  EXPECT_EQ(credentials->Find(""), nullptr);
}

TEST(AppCredentialsTest, ConsumersWithPlainAndHashedKeys) {
  v1::AppConfig app = AuthApp();
  app.set_auth_header("X-Api-Key");
  app.set_forward_auth_header(true);
  v1::Consumer* alice = AddConsumer(app, "alice");
  alice->set_key("alice-key");
  alice->set_limit_value(10);
  alice->set_limit_period_seconds(5);
  AddConsumer(app, "bob")->set_key_sha256(Sha256Hex("bob-key"));
  AddConsumer(app, "carol")->set_key_sha256(absl::AsciiStrToUpper(Sha256Hex("carol-key")));
  auto credentials = AppCredentials::Compile(app);
  ASSERT_NE(credentials, nullptr);
  EXPECT_EQ(credentials->header(), "X-Api-Key");
  EXPECT_TRUE(credentials->forward_header());
  EXPECT_EQ(credentials->key_count(), 3u);

  const ConsumerRoute* a = credentials->Find("alice-key");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "alice");
  EXPECT_EQ(a->limit_value, 10u);
  EXPECT_EQ(a->limit_period, std::chrono::seconds(5));
  const ConsumerRoute* b = credentials->Find("bob-key");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "bob");
  EXPECT_EQ(b->limit_period, std::chrono::seconds(60));
  const ConsumerRoute* c = credentials->Find("carol-key");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "carol");
  // A hashed key is a key's digest, not a key: presenting the digest itself is refused.
  EXPECT_EQ(credentials->Find(Sha256Hex("bob-key")), nullptr);
  EXPECT_EQ(credentials->Find("mallory-key"), nullptr);
}

TEST(AppCredentialsTest, ManyConsumersAreEachFound) {
  v1::AppConfig app = AuthApp();
  constexpr int kConsumers = 2000;
  for (int i = 0; i < kConsumers; ++i) {
    AddConsumer(app, "c" + std::to_string(i))->set_key("key-" + std::to_string(i));
  }
  auto credentials = AppCredentials::Compile(app);
  ASSERT_NE(credentials, nullptr);
  for (int i = 0; i < kConsumers; i += 97) {
    const ConsumerRoute* c = credentials->Find("key-" + std::to_string(i));
    ASSERT_NE(c, nullptr) << i;
    EXPECT_EQ(c->name, "c" + std::to_string(i));
  }
  EXPECT_EQ(credentials->Find("key-" + std::to_string(kConsumers)), nullptr);
}

TEST(ConstantTimeEqualsTest, ComparesEveryByte) {
  uint8_t a[32] = {};
  uint8_t b[32] = {};
  EXPECT_TRUE(ConstantTimeEquals(a, b, sizeof(a)));
  b[31] = 1;
  EXPECT_FALSE(ConstantTimeEquals(a, b, sizeof(a)));
  b[31] = 0;
  b[0] = 0x80;
  EXPECT_FALSE(ConstantTimeEquals(a, b, sizeof(a)));
  EXPECT_TRUE(ConstantTimeEquals(a, b, 0));
}

}  // namespace
}  // namespace valet
