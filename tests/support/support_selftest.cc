// Checks the test support library against itself: TestBackend + HttpClient + Process.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace valet::testing {
namespace {

using ::std::chrono_literals::operator""ms;

std::unique_ptr<TestBackend> StartBackend(TestBackend::Options options = {}) {
  auto backend = TestBackend::Start(std::move(options));
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? *std::move(backend) : nullptr;
}

TEST(SupportSelftest, EchoAndKeepAlive) {
  auto backend = StartBackend({.name = "b1"});
  HttpClient client("127.0.0.1", backend->port());
  auto r1 = client.Send("POST", "/a?x=1", {{"X-Dup", "1"}, {"X-Dup", "2"}}, "hello");
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->status, 200);
  EXPECT_FALSE(r1->reused_connection);
  EXPECT_EQ(r1->Header("x-backend-name"), "b1");
  auto j = nlohmann::json::parse(r1->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["target"], "/a?x=1");
  EXPECT_EQ(j["body"], "hello");
  EXPECT_EQ(j["body_length"], 5);
  EXPECT_EQ(j["port"], backend->port());

  auto r2 = client.Get("/b");
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->reused_connection);
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_EQ(backend->accepted_connections(), 1u);

  auto log = backend->requests();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].HeaderCount("x-dup"), 2u);
  EXPECT_EQ(log[0].connection_id, log[1].connection_id);
  EXPECT_EQ(log[1].index_on_connection, 1);
}

TEST(SupportSelftest, ChunkedBothWays) {
  auto backend = StartBackend();
  backend->SetHandler([](const RecordedRequest& req) {
    EXPECT_TRUE(req.chunked);
    return BackendReply::Chunked(201, {"ab", "", "cd", req.body});
  });
  HttpClient client("127.0.0.1", backend->port());
  auto r = client.Send("PUT", "/c", {}, "", std::vector<std::string>{"x", "yz"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->body, "abcdxyz");
}

TEST(SupportSelftest, ResetCloseRawAndDelay) {
  auto backend = StartBackend();
  HttpClient client("127.0.0.1", backend->port(), absl::Milliseconds(300));

  backend->SetHandler([](const RecordedRequest&) { return BackendReply::Reset(); });
  EXPECT_FALSE(client.Get("/").ok());
  backend->SetHandler([](const RecordedRequest&) { return BackendReply::Close(); });
  EXPECT_FALSE(client.Get("/").ok());
  backend->SetHandler([](const RecordedRequest&) { return BackendReply::Raw("garbage\r\n\r\n"); });
  EXPECT_FALSE(client.Get("/").ok());

  backend->SetHandler(
      [](const RecordedRequest&) { return BackendReply::Respond(200, "late").After(1000ms); });
  auto slow = client.Get("/");
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded) << slow.status();

  backend->SetHandler(
      [](const RecordedRequest&) { return BackendReply::Respond(200, "soon").After(20ms); });
  auto soon = client.Get("/");
  ASSERT_TRUE(soon.ok()) << soon.status();
  EXPECT_EQ(soon->body, "soon");
}

TEST(SupportSelftest, ReconnectsAfterServerClose) {
  auto backend = StartBackend();
  backend->SetHandler([](const RecordedRequest&) {
    BackendReply r = BackendReply::Respond(200, "bye");
    r.close_after = true;
    return r;
  });
  HttpClient client("127.0.0.1", backend->port());
  ASSERT_TRUE(client.Get("/").ok());
  EXPECT_FALSE(client.connected());
  auto r = client.Get("/");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->reused_connection);
  EXPECT_EQ(backend->accepted_connections(), 2u);
}

TEST(SupportSelftest, SendRawGetsAnswerAndClose) {
  auto backend = StartBackend();
  bool closed = false;
  auto raw = SendRaw("127.0.0.1", backend->port(),
                     "GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", absl::Seconds(5),
                     &closed);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_TRUE(closed);
  EXPECT_NE(raw->find("HTTP/1.1 200"), std::string::npos);
}

TEST(SupportSelftest, ClosedPortRefusesAndCanBeRevived) {
  auto port = PickClosedPort();
  ASSERT_TRUE(port.ok());
  HttpClient client("127.0.0.1", *port, absl::Seconds(2));
  auto refused = client.Get("/");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();

  auto backend = StartBackend({.port = *port});
  ASSERT_EQ(backend->port(), *port);
  EXPECT_TRUE(client.Get("/").ok());
  backend->Stop();
  client.Close();
  EXPECT_FALSE(client.Get("/").ok());
}

TEST(SupportSelftest, ProcessLogExitAndSignal) {
  auto p = Process::Start("/bin/sh", {"-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto code = (*p)->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 3);
  EXPECT_EQ((*p)->Log(), "out\nerr\n");

  auto sleeper = Process::Start("/bin/sleep", {"30"});
  ASSERT_TRUE(sleeper.ok());
  EXPECT_EQ((*sleeper)->Wait(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE((*sleeper)->Signal(SIGTERM).ok());
  auto killed = (*sleeper)->Wait(absl::Seconds(5));
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(*killed, -SIGTERM);
}

TEST(SupportSelftest, PortFile) {
  TempDir dir;
  std::string path = dir.Join("ports");
  auto p = Process::Start("/bin/sh", {"-c",
                                      "printf 'listen 127.0.0.1:4000\\nadmin 127.0.0.1:4001\\n' "
                                      "> " +
                                          path + ".tmp && mv " + path + ".tmp " + path});
  ASSERT_TRUE(p.ok());
  auto ports = WaitForPortFile(path, absl::Seconds(5));
  ASSERT_TRUE(ports.ok()) << ports.status();
  EXPECT_EQ((*ports)["listen"], "127.0.0.1:4000");
  EXPECT_EQ((*ports)["admin"], "127.0.0.1:4001");
  EXPECT_FALSE(ParsePortFile("listen nope").ok());
  EXPECT_EQ(WaitForPortFile(dir.Join("missing"), absl::Milliseconds(30)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace valet::testing
