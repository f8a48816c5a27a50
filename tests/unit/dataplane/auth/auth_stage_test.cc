// The auth stage over a real exchange: missing, empty, doubled and wrong keys answered 401 and
// counted; a right key sets the consumer and rewrites the request's fields for the backend.
// Also: only apps with authorize get the stage.
#include "dataplane/auth/auth_stage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/sha256.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/pipeline/pipeline.h"

namespace valet {
namespace {

namespace http = boost::beast::http;

// The stage decides alone: it never touches the connection.
class UnusedDownstream : public Downstream {
 public:
  Worker& worker() override { std::abort(); }
  MaybeTlsStream& stream() override { std::abort(); }
  boost::beast::flat_buffer& buffer() override { std::abort(); }
  const std::string& ClientIp() const override { std::abort(); }
  char* RelayBuffer() override { std::abort(); }
  std::string& RequestHeadBuffer() override { std::abort(); }
  std::string& ResponseHeadBuffer() override { std::abort(); }
  std::shared_ptr<void> Hold() override { std::abort(); }
  bool closed() const override { std::abort(); }
  void Fail(const GatewayError&) override { std::abort(); }
  void Respond(http::response<http::string_body>) override { std::abort(); }
  void Finished(int) override { std::abort(); }
  void Abort(int) override { std::abort(); }
  void Tunnel(std::unique_ptr<UpstreamConnection>) override { std::abort(); }
};

constexpr char kAnonymousKey[] = "thisismyauth";
constexpr char kAliceKey[] = "alice-3f9a2c";
constexpr char kBobKey[] = "bob-77d1e0";

class AuthStageTest : public ::testing::Test {
 protected:
  void Compile(bool forward = false) {
    v1::AppConfig app;
    app.set_name("shop");
    app.set_authorize(true);
    app.set_auth_key(kAnonymousKey);
    app.set_forward_auth_header(forward);
    v1::Consumer* alice = app.add_consumers();
    alice->set_name("alice");
    alice->set_key(kAliceKey);
    v1::Consumer* bob = app.add_consumers();
    bob->set_name("bob");
    bob->set_key_sha256(Sha256Hex(kBobKey));
    stage_ = std::make_unique<AuthStage>(AppCredentials::Compile(app), stats_);
  }

  StageResult Run() { return stage_->Run(exchange_, downstream_); }
  http::request_header<>& Request() { return exchange_.request.get(); }
  std::string Field(std::string_view name) {
    auto it = exchange_.request.get().find(name);
    return it == exchange_.request.get().end() ? "<none>" : std::string(it->value());
  }
  size_t Count(std::string_view name) { return exchange_.request.get().count(name); }
  std::string ResponseField(std::string_view name) {
    http::fields fields;
    exchange_.response_fields.ApplyTo(fields);
    auto it = fields.find(name);
    return it == fields.end() ? "<none>" : std::string(it->value());
  }

  std::shared_ptr<AppStats> stats_ = std::make_shared<AppStats>();
  std::unique_ptr<AuthStage> stage_;
  Exchange exchange_;
  UnusedDownstream downstream_;
};

TEST_F(AuthStageTest, NoKeyIsMissingCredentials) {
  Compile();
  StageResult result = Run();
  ASSERT_NE(result.error(), nullptr);
  EXPECT_EQ(result.error()->status, 401);
  EXPECT_EQ(result.error()->code, "missing_credentials");
  EXPECT_NE(result.error()->message.find("X-Valet-Auth"), std::string::npos);
  EXPECT_EQ(ResponseField("WWW-Authenticate"), "ApiKey header=\"X-Valet-Auth\"");
  EXPECT_EQ(stats_->auth_failures(AuthFailure::kMissing), 1u);
  EXPECT_EQ(stats_->auth_failures(AuthFailure::kInvalid), 0u);
  EXPECT_EQ(exchange_.consumer, nullptr);
}

TEST_F(AuthStageTest, AnEmptyKeyIsMissingCredentials) {
  Compile();
  Request().set("X-Valet-Auth", "");
  StageResult result = Run();
  ASSERT_NE(result.error(), nullptr);
  EXPECT_EQ(result.error()->code, "missing_credentials");
  EXPECT_EQ(stats_->auth_failures(AuthFailure::kMissing), 1u);
}

TEST_F(AuthStageTest, AWrongKeyIsInvalidCredentialsAndNeverQuoted) {
  Compile();
  Request().set("x-valet-auth", "alice-3f9a2");  // The header's name in any case.
  StageResult result = Run();
  ASSERT_NE(result.error(), nullptr);
  EXPECT_EQ(result.error()->status, 401);
  EXPECT_EQ(result.error()->code, "invalid_credentials");
  EXPECT_EQ(result.error()->message.find("alice-3f9a2"), std::string::npos);
  EXPECT_EQ(stats_->auth_failures(AuthFailure::kInvalid), 1u);
  EXPECT_EQ(exchange_.consumer, nullptr);
}

TEST_F(AuthStageTest, TwoKeysAreRefusedEvenIfOneIsRight) {
  Compile();
  Request().insert("X-Valet-Auth", kAliceKey);
  Request().insert("X-Valet-Auth", "guess");
  StageResult result = Run();
  ASSERT_NE(result.error(), nullptr);
  EXPECT_EQ(result.error()->code, "invalid_credentials");
}

TEST_F(AuthStageTest, ANamedConsumerIsSetAndNamedToTheBackend) {
  Compile();
  Request().set("X-Valet-Auth", kAliceKey);
  Request().insert("X-Valet-Consumer", "admin");  // Spoofing attempts, twice.
  Request().insert("x-valet-consumer", "root");
  StageResult result = Run();
  ASSERT_TRUE(result.next());
  ASSERT_NE(exchange_.consumer, nullptr);
  EXPECT_EQ(exchange_.consumer->name, "alice");
  EXPECT_EQ(Field("X-Valet-Auth"), "<none>");
  EXPECT_EQ(Count("X-Valet-Consumer"), 1u);
  EXPECT_EQ(Field("X-Valet-Consumer"), "alice");
  EXPECT_EQ(stats_->auth_failures(AuthFailure::kInvalid), 0u);
  EXPECT_TRUE(exchange_.response_fields.empty());
}

TEST_F(AuthStageTest, AHashedKeyAuthenticatesItsConsumer) {
  Compile();
  Request().set("X-Valet-Auth", kBobKey);
  ASSERT_TRUE(Run().next());
  ASSERT_NE(exchange_.consumer, nullptr);
  EXPECT_EQ(exchange_.consumer->name, "bob");
  EXPECT_EQ(Field("X-Valet-Consumer"), "bob");
}

TEST_F(AuthStageTest, TheAnonymousConsumerIsNotNamed) {
  Compile();
  Request().set("X-Valet-Auth", kAnonymousKey);
  Request().set("X-Valet-Consumer", "alice");
  ASSERT_TRUE(Run().next());
  ASSERT_NE(exchange_.consumer, nullptr);
  EXPECT_EQ(exchange_.consumer->name, "");
  EXPECT_EQ(Field("X-Valet-Consumer"), "<none>");
  EXPECT_EQ(Field("X-Valet-Auth"), "<none>");
}

TEST_F(AuthStageTest, ForwardAuthHeaderKeepsTheKeyForTheBackend) {
  Compile(/*forward=*/true);
  Request().set("X-Valet-Auth", kAliceKey);
  ASSERT_TRUE(Run().next());
  EXPECT_EQ(Field("X-Valet-Auth"), kAliceKey);
  EXPECT_EQ(Field("X-Valet-Consumer"), "alice");
}

TEST(AuthPipelineTest, OnlyAppsThatAuthorizeHaveTheStage) {
  AppRoute open;
  open.stats = std::make_shared<AppStats>();
  EXPECT_TRUE(BuildPipeline(open)->stages().empty());

  v1::AppConfig config;
  config.set_name("shop");
  config.set_authorize(true);
  config.set_auth_key("k");
  AppRoute closed;
  closed.stats = std::make_shared<AppStats>();
  closed.credentials = AppCredentials::Compile(config);
  auto pipeline = BuildPipeline(closed);
  ASSERT_EQ(pipeline->stages().size(), 1u);
  EXPECT_EQ(pipeline->stages()[0]->name(), "auth");
}

}  // namespace
}  // namespace valet
