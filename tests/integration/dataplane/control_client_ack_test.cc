// The data plane's ControlClient wired to a real SnapshotStore and worker threads, against a
// scripted AttachService in process (real gRPC on 127.0.0.1:0): an ACK means every worker serves
// the version. A worker held busy keeps the ACK back; past serve_timeout the answer is a NACK.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dataplane/control_client.h"
#include "dataplane/metrics.h"
#include "dataplane/mocks/answer_recorder.h"
#include "dataplane/options.h"
#include "dataplane/snapshot_store.h"
#include "dataplane/worker.h"
#include "tests/support/process.h"
#include "tests/support/worker_probe.h"
#include "valet/v1/attach.grpc.pb.h"

namespace valet {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(15);

// Answers the Hello with the attached mark, then sends each pushed snapshot in turn and records
// the data plane's answer to it, until the stream is cancelled or Shutdown().
class ScriptedControlPlane final : public v1::AttachService::Service {
 public:
  void Push(uint64_t version) {
    v1::ConfigSnapshot snapshot;
    snapshot.set_version(version);
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(snapshot));
  }

  void Shutdown() {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }

  std::vector<v1::DataPlaneMessage> answers() {
    absl::MutexLock lock(&mu_);
    return answers_;
  }

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ControlPlaneMessage, v1::DataPlaneMessage>* stream) override {
    v1::DataPlaneMessage in;
    if (!stream->Read(&in) || !in.has_hello()) return grpc::Status(grpc::StatusCode::CANCELLED, "");
    context->AddInitialMetadata("valet-attached", "1");
    stream->SendInitialMetadata();
    for (;;) {
      v1::ControlPlaneMessage out;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return shutdown_ || !queue_.empty();
        };
        // In slices, to notice a cancelled stream; bounded by the client's Stop or Shutdown().
        if (!mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(50))) {
          if (context->IsCancelled()) return grpc::Status::CANCELLED;
          continue;
        }
        if (shutdown_) return grpc::Status::OK;
        *out.mutable_snapshot() = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!stream->Write(out)) return grpc::Status::CANCELLED;
      // The answer; status reports come on the data plane's own schedule in between.
      do {
        if (!stream->Read(&in)) return grpc::Status::CANCELLED;
      } while (in.has_report());
      absl::MutexLock lock(&mu_);
      answers_.push_back(in);
    }
  }

 private:
  absl::Mutex mu_;
  std::deque<v1::ConfigSnapshot> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DataPlaneMessage> answers_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

class ControlClientAckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);

    options_.workers = 2;
    std::vector<Worker*> raw;
    for (int i = 0; i < options_.workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, options_, metrics_, recorder_));
      raw.push_back(workers_.back().get());
      workers_.back()->Start();
    }
    store_ = std::make_unique<SnapshotStore>(raw, metrics_, limits_, /*max_apps=*/0);
  }

  // Attaches a client that installs into store_, as valet-dataplane does.
  void StartClient(absl::Duration serve_timeout) {
    ControlClientOptions options;
    options.targets = {absl::StrCat("127.0.0.1:", port_)};
    options.id = "dp-ack";
    options.address = "127.0.0.1:8000";
    options.serve_timeout = serve_timeout;
    client_ = ControlClient::Create(
        options,
        [this](const v1::ConfigSnapshot& s, ServedFn served) {
          return store_->Install(s, std::move(served));
        },
        [this] {
          return ServedVersion{store_->epoch(), store_->version()};
        });
    client_->Start();
    ASSERT_TRUE(testing::WaitFor([&] { return client_->connected(); }, kDeadline));
  }

  // The answer to the n-th pushed snapshot (1-based), once it came.
  std::optional<v1::DataPlaneMessage> AwaitAnswer(size_t n) {
    if (!testing::WaitFor([&] { return service_.answers().size() >= n; }, kDeadline)) {
      return std::nullopt;
    }
    return service_.answers()[n - 1];
  }

  void TearDown() override {
    service_.Shutdown();
    if (client_) client_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    // workers_ stop when destroyed, after every test-local WorkerHold has been released.
  }

  ScriptedControlPlane service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  ProxyOptions options_;
  Metrics metrics_;
  AnswerRecorder recorder_;
  RateLimits limits_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<SnapshotStore> store_;
  std::unique_ptr<ControlClient> client_;
};

TEST_F(ControlClientAckTest, AVersionIsAckedOnlyOnceEveryWorkerServesIt) {
  StartClient(/*serve_timeout=*/absl::Seconds(1));
  {
    // One worker stuck in a handler for longer than serve_timeout: the version cannot be ACKed.
    testing::WorkerHold hold(*workers_[1]);
    ASSERT_TRUE(hold.held());
    service_.Push(1);
    std::optional<v1::DataPlaneMessage> answer = AwaitAnswer(1);
    ASSERT_TRUE(answer.has_value());
    ASSERT_TRUE(answer->has_nack())
        << "answered before every worker served version 1: " << answer->ShortDebugString();
    EXPECT_EQ(answer->nack().version(), 1u);
    EXPECT_NE(answer->nack().reason().find("not served by every worker within 1s"),
              std::string::npos)
        << answer->nack().reason();
    // The worker that was free serves it already; the held one still runs the old snapshot.
    EXPECT_EQ(testing::WorkerSnapshotVersion(*workers_[0]), 1u);
  }
  // With every worker free, the next version is ACKed, and every worker serves it.
  service_.Push(2);
  std::optional<v1::DataPlaneMessage> answer = AwaitAnswer(2);
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->has_ack()) << answer->ShortDebugString();
  EXPECT_EQ(answer->ack().version(), 2u);
  for (auto& w : workers_) EXPECT_EQ(testing::WorkerSnapshotVersion(*w), 2u);
}

TEST_F(ControlClientAckTest, StopIsPromptWhileWaitingForAWorker) {
  StartClient(/*serve_timeout=*/absl::Minutes(1));
  testing::WorkerHold hold(*workers_[0]);
  ASSERT_TRUE(hold.held());
  service_.Push(1);
  // Handed to the workers: the client now waits for the held one.
  ASSERT_TRUE(testing::WaitFor([&] { return store_->version() == 1; }, kDeadline));
  auto start = std::chrono::steady_clock::now();
  client_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(service_.answers().empty()) << "answered while a worker was held";
  hold.Release();
}

}  // namespace
}  // namespace valet
