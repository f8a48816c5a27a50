// Checks the test support library against itself: TestBackend + HttpClient + Process.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/raw_connection.h"
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

// A raw reply that keeps the connection open serves the next request on that same connection.
TEST(SupportSelftest, RawKeepOpenReadsTheNextRequest) {
  auto backend = StartBackend();
  backend->SetHandler([](const RecordedRequest& req) {
    std::string body = req.target == "/first" ? "one" : "two";
    return BackendReply::RawKeepOpen("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + body);
  });
  auto conn = RawConnection::Connect("127.0.0.1", backend->port(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)->Write("GET /first HTTP/1.1\r\nHost: x\r\n\r\n", absl::Seconds(5)).ok());
  auto first = (*conn)->ReadUntil("one", absl::Seconds(5));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*conn)->Write("GET /second HTTP/1.1\r\nHost: x\r\n\r\n", absl::Seconds(5)).ok());
  auto second = (*conn)->ReadUntil("two", absl::Seconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(backend->accepted_connections(), 1u);
  EXPECT_EQ(backend->open_connections(), 1u);
}

// A held reply waits for ReleaseHeld, however long that takes.
TEST(SupportSelftest, HeldRepliesWaitForRelease) {
  auto backend = StartBackend();
  backend->SetHandler(
      [](const RecordedRequest&) { return BackendReply::Respond(200, "now").Held(); });
  HttpClient client("127.0.0.1", backend->port(), absl::Milliseconds(300));
  EXPECT_EQ(client.Get("/").status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(WaitFor([&] { return backend->held_count() == 1; }, absl::Seconds(5)));
  auto conn = RawConnection::Connect("127.0.0.1", backend->port(), absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)->Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n", absl::Seconds(5)).ok());
  ASSERT_TRUE(WaitFor([&] { return backend->held_count() == 2; }, absl::Seconds(5)));
  backend->ReleaseHeld();
  auto answer = (*conn)->ReadUntil("now", absl::Seconds(5));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *answer;
  EXPECT_EQ(backend->held_count(), 0u);
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

TEST(SupportSelftest, ProcessSplitsStdoutAndStderr) {
  auto p = Process::Start("/bin/sh", {"-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2"});
  ASSERT_TRUE(p.ok()) << p.status();
  auto code = (*p)->Wait(absl::Seconds(5));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ((*p)->Stdout(), "out1\nout2\n");
  EXPECT_EQ((*p)->Stderr(), "err1\nerr2\n");
  EXPECT_EQ((*p)->Log(), "out1\nout2\nerr1\nerr2\n");

  auto quiet = Process::Start("/bin/true", {});
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  ASSERT_TRUE((*quiet)->Wait(absl::Seconds(5)).ok());
  EXPECT_EQ((*quiet)->Stdout(), "");
  EXPECT_EQ((*quiet)->Stderr(), "");
}

// The tsan preset relies on this: a child's ThreadSanitizer report fails the test that started it.
TEST(SupportSelftest, SanitizerReportOfChildFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(
      {
        auto p =
            Process::Start("/bin/sh", {"-c", "echo 'WARNING: ThreadSanitizer: data race' >&2"});
        ASSERT_TRUE(p.ok()) << p.status();
        ASSERT_TRUE((*p)->Wait(absl::Seconds(5)).ok());
      },
      "ThreadSanitizer report in the stderr of child");
}

TEST(SupportSelftest, ProcessEnvironment) {
  ASSERT_EQ(setenv("VALET_SELFTEST_DROP", "inherited", 1), 0);
  ASSERT_EQ(setenv("VALET_SELFTEST_DROP_NOT", "kept", 1), 0);  // Shares a prefix only.
  ASSERT_EQ(setenv("VALET_SELFTEST_OVERRIDE", "inherited", 1), 0);
  const std::string script =
      "echo \"drop=${VALET_SELFTEST_DROP-unset} drop_not=${VALET_SELFTEST_DROP_NOT-unset} "
      "override=${VALET_SELFTEST_OVERRIDE-unset} extra=${VALET_SELFTEST_EXTRA-unset}\"";
  auto run = [&](auto options) {
    auto p = Process::Start("/bin/sh", {"-c", script}, std::move(options));
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return std::string();
    auto code = (*p)->Wait(absl::Seconds(5));
    EXPECT_TRUE(code.ok() && *code == 0) << (*p)->Log();
    return (*p)->Stdout();
  };

  // Inherited as is.
  EXPECT_EQ(run(std::vector<std::string>{}),
            "drop=inherited drop_not=kept override=inherited extra=unset\n");
  // The extra_env-only signature: added and overridden.
  EXPECT_EQ(run(std::vector<std::string>{"VALET_SELFTEST_EXTRA=x", "VALET_SELFTEST_OVERRIDE=new"}),
            "drop=inherited drop_not=kept override=new extra=x\n");
  // Options: dropped by exact name; a name both unset and set gets the new value.
  EXPECT_EQ(run(Process::Options{
                .extra_env = {"VALET_SELFTEST_OVERRIDE=new"},
                .unset_env = {"VALET_SELFTEST_DROP", "VALET_SELFTEST_OVERRIDE", "VALET_NOT_SET"}}),
            "drop=unset drop_not=kept override=new extra=unset\n");

  unsetenv("VALET_SELFTEST_DROP");
  unsetenv("VALET_SELFTEST_DROP_NOT");
  unsetenv("VALET_SELFTEST_OVERRIDE");
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
