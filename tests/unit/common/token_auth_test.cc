// The tokens file format and the token check: parsing, roles, constant-time lookup, reload that
// keeps the old tokens on a bad file, and messages that never carry a token.
#include "common/token_auth.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/tokens_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"

namespace valet {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "admin-secret-7f3a";
constexpr char kReadToken[] = "read-secret-91bc";
constexpr char kDataplaneToken[] = "dp-secret-0d2e";

std::string Line(const std::string& name, const std::string& role, const std::string& token) {
  return absl::StrCat(name, " ", role, " ", Sha256Hex(token), "\n");
}

std::string ThreeTokens() {
  return absl::StrCat("# name role sha256\n\n", Line("ops", "admin", kAdminToken),
                      "  grafana\tread  ", Sha256Hex(kReadToken), "  \n",
                      Line("dp-1", "dataplane", kDataplaneToken));
}

TEST(TokensFileTest, ParsesNamesRolesAndDigests) {
  auto entries = ParseTokensFile(ThreeTokens(), "tokens");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].name, "ops");
  EXPECT_EQ((*entries)[0].role, TokenRole::kAdmin);
  EXPECT_EQ((*entries)[1].name, "grafana");
  EXPECT_EQ((*entries)[1].role, TokenRole::kRead);
  EXPECT_EQ((*entries)[2].role, TokenRole::kDataplane);
  EXPECT_EQ(ToHex((*entries)[2].digest), Sha256Hex(kDataplaneToken));
}

TEST(TokensFileTest, UpperCaseHexIsAccepted) {
  std::string hex = Sha256Hex(kAdminToken);
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto entries = ParseTokensFile(absl::StrCat("ops admin ", hex, "\n"), "tokens");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(ToHex((*entries)[0].digest), Sha256Hex(kAdminToken));
}

TEST(TokensFileTest, BadLinesAreRefusedWithTheirLineNumber) {
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {"ops admin\n", "tokens:1: expected `NAME ROLE SHA256HEX`, got 2 fields"},
      {absl::StrCat("\nops root ", Sha256Hex("x"), "\n"), "tokens:2: token ops: unknown role"},
      {"ops admin abc\n", "tokens:1: token ops: the third field must be the SHA-256"},
      {absl::StrCat("o/ps admin ", Sha256Hex("x"), "\n"), "tokens:1: the name must be"},
      {absl::StrCat(Line("a", "admin", "x"), Line("a", "read", "y")),
       "tokens:2: token a: the name is given twice"},
      {absl::StrCat(Line("a", "admin", "x"), Line("b", "read", "x")),
       "tokens:2: token b: the same token is listed twice"},
      {"# only a comment\n", "tokens: no tokens"},
      {"", "tokens: no tokens"},
  };
  for (const Case& c : cases) {
    auto entries = ParseTokensFile(c.text, "tokens");
    ASSERT_FALSE(entries.ok()) << c.text;
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(entries.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(TokensFileTest, ATokenWrittenInPlaceOfItsHashIsNotEchoed) {
  // Operators paste the token instead of its hash, or swap the fields: the error must not repeat
  // what they pasted.
  for (const std::string& text : {absl::StrCat("ops admin ", kAdminToken, "\n"),
                                  absl::StrCat("ops ", kAdminToken, " admin\n"),
                                  absl::StrCat("ops admin ", kAdminToken, " extra\n")}) {
    auto entries = ParseTokensFile(text, "tokens");
    ASSERT_FALSE(entries.ok());
    EXPECT_THAT(std::string(entries.status().message()), Not(HasSubstr(kAdminToken)));
  }
}

TEST(TokenRoleTest, AdminMayDoEverythingOthersOnlyTheirOwn) {
  for (TokenRole need : {TokenRole::kAdmin, TokenRole::kRead, TokenRole::kDataplane}) {
    EXPECT_TRUE(RoleAllows(TokenRole::kAdmin, need));
  }
  EXPECT_TRUE(RoleAllows(TokenRole::kRead, TokenRole::kRead));
  EXPECT_FALSE(RoleAllows(TokenRole::kRead, TokenRole::kAdmin));
  EXPECT_FALSE(RoleAllows(TokenRole::kRead, TokenRole::kDataplane));
  EXPECT_TRUE(RoleAllows(TokenRole::kDataplane, TokenRole::kDataplane));
  EXPECT_FALSE(RoleAllows(TokenRole::kDataplane, TokenRole::kRead));
  EXPECT_FALSE(RoleAllows(TokenRole::kDataplane, TokenRole::kAdmin));
}

TEST(BearerTokenTest, TakesTheTokenOfABearerField) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
  EXPECT_EQ(BearerToken(""), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("abc"), "");
}

class TokenAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.WriteFile("tokens", ThreeTokens());
    auto auth = TokenAuth::Load(path_);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::move(*auth);
  }

  AuthResult Check(const std::string& authorization, TokenRole need) {
    return auth_->Check(authorization, need, "ApplyApps");
  }

  testing::TempDir dir_;
  std::string path_;
  std::unique_ptr<TokenAuth> auth_;
};

TEST_F(TokenAuthTest, EachRoleGetsWhatItMay) {
  std::string admin = absl::StrCat("Bearer ", kAdminToken);
  std::string read = absl::StrCat("Bearer ", kReadToken);
  std::string dp = absl::StrCat("Bearer ", kDataplaneToken);
  for (TokenRole need : {TokenRole::kAdmin, TokenRole::kRead, TokenRole::kDataplane}) {
    AuthResult r = Check(admin, need);
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.token_name, "ops");
  }
  EXPECT_TRUE(Check(read, TokenRole::kRead).status.ok());
  EXPECT_TRUE(Check(dp, TokenRole::kDataplane).status.ok());

  AuthResult denied = Check(read, TokenRole::kAdmin);
  EXPECT_EQ(denied.status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.token_name, "grafana");
  EXPECT_EQ(denied.status.message(),
            "token grafana has the role read, which may not call ApplyApps (it needs admin)");
  EXPECT_EQ(Check(dp, TokenRole::kRead).status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Check(read, TokenRole::kDataplane).status.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(TokenAuthTest, MissingMalformedAndUnknownTokensAreUnauthenticated) {
  for (const std::string& authorization :
       {std::string(), std::string("Basic b3BzOnB3"), absl::StrCat("Bearer ", kAdminToken, "x"),
        absl::StrCat("Bearer ", Sha256Hex(kAdminToken)), std::string("Bearer ")}) {
    AuthResult r = Check(authorization, TokenRole::kRead);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kUnauthenticated) << authorization;
    EXPECT_EQ(r.token_name, "");
    EXPECT_THAT(std::string(r.status.message()), Not(HasSubstr(kAdminToken)));
  }
}

TEST_F(TokenAuthTest, MessagesNeverCarryTheTokenOrItsDigest) {
  for (const char* token : {kAdminToken, kReadToken, kDataplaneToken}) {
    for (TokenRole need : {TokenRole::kAdmin, TokenRole::kRead, TokenRole::kDataplane}) {
      AuthResult r = Check(absl::StrCat("Bearer ", token), need);
      EXPECT_THAT(std::string(r.status.message()), Not(HasSubstr(token)));
      EXPECT_THAT(std::string(r.status.message()), Not(HasSubstr(Sha256Hex(token))));
    }
  }
}

TEST_F(TokenAuthTest, ReloadSwapsTokensAndABadFileKeepsTheOldOnes) {
  dir_.WriteFile("tokens", Line("ops", "admin", "new-admin-token"));
  ASSERT_TRUE(auth_->Reload().ok());
  EXPECT_EQ(auth_->size(), 1u);
  EXPECT_EQ(Check(absl::StrCat("Bearer ", kAdminToken), TokenRole::kRead).status.code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Check("Bearer new-admin-token", TokenRole::kAdmin).status.ok());

  dir_.WriteFile("tokens", "ops admin not-a-hash\n");
  absl::Status bad = auth_->Reload();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr(":1: token ops"));
  EXPECT_TRUE(Check("Bearer new-admin-token", TokenRole::kAdmin).status.ok());

  ::unlink(path_.c_str());
  EXPECT_FALSE(auth_->Reload().ok());
  EXPECT_TRUE(Check("Bearer new-admin-token", TokenRole::kAdmin).status.ok());
}

TEST_F(TokenAuthTest, FindHoldsItsEntryAcrossAReload) {
  std::shared_ptr<const TokenEntry> entry = auth_->Find(kReadToken);
  ASSERT_NE(entry, nullptr);
  dir_.WriteFile("tokens", Line("other", "admin", "other-token"));
  ASSERT_TRUE(auth_->Reload().ok());
  EXPECT_EQ(entry->name, "grafana");  // Still valid: it shares the old table.
  EXPECT_EQ(auth_->Find(kReadToken), nullptr);
}

TEST(ReadTokenFileTest, TakesTheFirstLineTrimmed) {
  testing::TempDir dir;
  auto token = ReadTokenFile(dir.WriteFile("t", "  abc.def-123 \nignored\n"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc.def-123");
  EXPECT_FALSE(ReadTokenFile(dir.WriteFile("empty", "\n")).ok());
  auto spaced = ReadTokenFile(dir.WriteFile("spaced", "two words\n"));
  ASSERT_FALSE(spaced.ok());
  EXPECT_THAT(std::string(spaced.status().message()), Not(HasSubstr("two words")));
  EXPECT_FALSE(ReadTokenFile(dir.Join("missing")).ok());
}

}  // namespace
}  // namespace valet
