// Redaction of app secrets in answers and their restoration on apply; validation refuses a marker
// that stands for no stored key.
#include "common/secret_redaction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/app_config_validation.h"
#include "common/sha256.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAppKey[] = "app-key-9c1d";
constexpr char kAliceKey[] = "alice-key-44e0";
constexpr char kBobKey[] = "bob-key-a7f3";

v1::AppConfig KeyedApp() {
  v1::AppConfig app;
  app.set_name("shop");
  app.set_authorize(true);
  app.set_auth_key(kAppKey);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(9050);
  v1::Consumer* alice = app.add_consumers();
  alice->set_name("alice");
  alice->set_key(kAliceKey);
  alice->set_limit_value(5);
  v1::Consumer* bob = app.add_consumers();
  bob->set_name("bob");
  bob->set_key_sha256(Sha256Hex(kBobKey));
  return app;
}

TEST(SecretRedactionTest, MarkerNamesTheDigestPrefix) {
  std::string marker = RedactedMarker(kAppKey);
  EXPECT_EQ(marker, "<redacted sha256:" + Sha256Hex(kAppKey).substr(0, 8) + ">");
  EXPECT_TRUE(IsRedactedMarker(marker));
  EXPECT_FALSE(IsRedactedMarker(kAppKey));
  EXPECT_FALSE(IsRedactedMarker("<redacted sha256:0123abc>"));
  EXPECT_FALSE(IsRedactedMarker("<redacted sha256:0123abcg>"));
  EXPECT_FALSE(IsRedactedMarker("<redacted sha256:0123abcd"));
  EXPECT_FALSE(IsRedactedMarker(""));
}

TEST(SecretRedactionTest, RedactsEverySecretAndNothingElse) {
  v1::AppConfig app = KeyedApp();
  v1::AppConfig shown = RedactSecrets(app);
  std::string wire = shown.SerializeAsString();
  EXPECT_THAT(wire, Not(HasSubstr(kAppKey)));
  EXPECT_THAT(wire, Not(HasSubstr(kAliceKey)));
  EXPECT_EQ(shown.auth_key(), RedactedMarker(kAppKey));
  EXPECT_EQ(shown.consumers(0).key(), RedactedMarker(kAliceKey));
  EXPECT_EQ(shown.consumers(0).limit_value(), 5u);
  EXPECT_EQ(shown.consumers(1).key(), "");
  EXPECT_EQ(shown.consumers(1).key_sha256(), Sha256Hex(kBobKey));  // Not a secret.
  EXPECT_EQ(app.auth_key(), kAppKey);                              // The input is untouched.

  v1::AppConfig open;
  open.set_name("open");
  EXPECT_EQ(RedactSecrets(open).auth_key(), "");
}

TEST(SecretRedactionTest, AppliedMarkersKeepTheStoredSecrets) {
  v1::AppConfig stored = KeyedApp();
  v1::AppConfig edited = RedactSecrets(stored);
  edited.set_description("edited");
  // Consumers are matched by name, not position.
  edited.mutable_consumers()->SwapElements(0, 1);
  RestoreRedactedSecrets(&stored, edited);
  EXPECT_EQ(edited.auth_key(), kAppKey);
  EXPECT_EQ(edited.consumers(1).name(), "alice");
  EXPECT_EQ(edited.consumers(1).key(), kAliceKey);
  EXPECT_EQ(edited.description(), "edited");
  EXPECT_TRUE(ValidateAppConfig(edited, "request").empty());
}

TEST(SecretRedactionTest, MarkersThatStandForNothingStayAndAreRefused) {
  v1::AppConfig stored = KeyedApp();
  v1::AppConfig edited = RedactSecrets(stored);
  // A marker moved to another consumer, a marker of another key, a new app.
  edited.mutable_consumers(1)->clear_key_sha256();
  edited.mutable_consumers(1)->set_key(RedactedMarker(kAliceKey));
  edited.set_auth_key(RedactedMarker("some other key"));
  RestoreRedactedSecrets(&stored, edited);
  EXPECT_TRUE(IsRedactedMarker(edited.auth_key()));
  EXPECT_EQ(edited.consumers(0).key(), kAliceKey);
  EXPECT_TRUE(IsRedactedMarker(edited.consumers(1).key()));

  std::vector<std::string> lines;
  for (const v1::ValidationError& e : ValidateAppConfig(edited, "request")) {
    lines.push_back(FormatValidationError(e));
  }
  EXPECT_THAT(lines, ::testing::ElementsAre(
                         HasSubstr("request: authKey: is a redacted value that stands for no"),
                         HasSubstr("request: consumers[1].key: is a redacted value")));

  v1::AppConfig fresh = RedactSecrets(stored);
  RestoreRedactedSecrets(nullptr, fresh);
  EXPECT_TRUE(IsRedactedMarker(fresh.auth_key()));
}

TEST(ConsumerValidationTest, AuthorizeNeedsAKeyOrAConsumer) {
  v1::AppConfig app = KeyedApp();
  app.clear_auth_key();
  EXPECT_TRUE(ValidateAppConfig(app, "s").empty());
  app.clear_consumers();
  ASSERT_EQ(ValidateAppConfig(app, "s").size(), 1u);
  EXPECT_EQ(ValidateAppConfig(app, "s")[0].path(), "authKey");
}

TEST(ConsumerValidationTest, ErrorsNeverQuoteAKey) {
  v1::AppConfig app = KeyedApp();
  v1::Consumer* dup = app.add_consumers();
  dup->set_name("alice");
  dup->set_key(kAppKey);
  std::vector<v1::ValidationError> errors = ValidateAppConfig(app, "s");
  ASSERT_EQ(errors.size(), 2u);
  for (const v1::ValidationError& e : errors) {
    EXPECT_THAT(FormatValidationError(e), Not(HasSubstr(kAppKey)));
  }
  EXPECT_EQ(errors[0].path(), "consumers[2].name");
  EXPECT_EQ(errors[1].path(), "consumers[2].key");
  EXPECT_EQ(errors[1].reason(), "is the same key as authKey");
}

}  // namespace
}  // namespace valet
