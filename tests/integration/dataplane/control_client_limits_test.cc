// The data plane's ControlClient against a small AttachService in process (real gRPC on
// 127.0.0.1:0): the message limits of the attach stream are those of common/message_limits.h in
// both directions. The real control plane refuses to build a snapshot that large, so only a
// stand-in can send one.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/message_limits.h"
#include "dataplane/control_client.h"
#include "tests/support/process.h"
#include "valet/v1/attach.grpc.pb.h"

namespace valet {
namespace {

// What one attach stream brought.
struct StreamRecord {
  bool hello = false;
  size_t hello_id_bytes = 0;
  bool acked = false;
  bool ended_without_answer = false;
};

// Answers every Hello with the attached mark and `snapshot`, records what the data plane answers,
// then holds the stream until the data plane leaves. Accepts and sends messages of any size.
class StandInControlPlane final : public v1::AttachService::Service {
 public:
  explicit StandInControlPlane(v1::ConfigSnapshot snapshot) : snapshot_(std::move(snapshot)) {}

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ControlPlaneMessage, v1::DataPlaneMessage>* stream) override {
    StreamRecord record;
    v1::DataPlaneMessage in;
    if (!stream->Read(&in) || !in.has_hello()) {
      record.ended_without_answer = true;
      Add(record);
      return grpc::Status(grpc::StatusCode::CANCELLED, "no hello");
    }
    record.hello = true;
    record.hello_id_bytes = in.hello().id().size();
    context->AddInitialMetadata("valet-attached", "1");
    stream->SendInitialMetadata();
    v1::ControlPlaneMessage out;
    *out.mutable_snapshot() = snapshot_;
    if (stream->Write(out) && stream->Read(&in)) {
      record.acked = in.has_ack();
    } else {
      record.ended_without_answer = true;
    }
    Add(record);
    // Hold the stream (no reconnect loop) until the data plane cancels it; bounded by the
    // client's Stop() at the end of each test.
    while (stream->Read(&in)) {
    }
    return grpc::Status::OK;
  }

  std::vector<StreamRecord> records() {
    absl::MutexLock lock(&mu_);
    return records_;
  }

 private:
  void Add(const StreamRecord& record) {
    absl::MutexLock lock(&mu_);
    records_.push_back(record);
  }

  const v1::ConfigSnapshot snapshot_;
  absl::Mutex mu_;
  std::vector<StreamRecord> records_ ABSL_GUARDED_BY(mu_);
};

// A snapshot whose ControlPlaneMessage is about `bytes` long (one app with a long description).
v1::ConfigSnapshot SnapshotOfSize(size_t bytes) {
  v1::ConfigSnapshot snapshot;
  snapshot.set_version(1);
  v1::AppConfig* app = snapshot.add_apps();
  app->set_name("big");
  app->set_description(std::string(bytes - 64, 'x'));
  return snapshot;
}

class ControlClientLimitsTest : public ::testing::Test {
 protected:
  void StartStandIn(v1::ConfigSnapshot snapshot) {
    service_ = std::make_unique<StandInControlPlane>(std::move(snapshot));
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(-1);
    builder.SetMaxSendMessageSize(-1);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  // A client attached to the stand-in that counts installs; `id` is its Hello's id.
  void StartClient(std::string id = "dp-limits") {
    ControlClientOptions options;
    options.targets = {absl::StrCat("127.0.0.1:", port_)};
    options.id = std::move(id);
    options.address = "127.0.0.1:8000";
    // Few retries while a test looks: each one moves tens of MiB.
    options.min_backoff = absl::Seconds(1);
    options.max_backoff = absl::Seconds(1);
    options.report_interval = absl::ZeroDuration();  // The stand-in reads the answer only.
    client_ = ControlClient::Create(
        options,
        [this](const v1::ConfigSnapshot&, ServedFn served) {
          {
            absl::MutexLock lock(&mu_);
            ++installs_;
          }
          served();  // No workers here: served at once.
          return absl::OkStatus();
        },
        [] { return ServedVersion{}; });
    client_->Start();
  }

  int installs() {
    absl::MutexLock lock(&mu_);
    return installs_;
  }

  void TearDown() override {
    if (client_) client_->Stop();  // Ends the held stream first.
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  std::unique_ptr<StandInControlPlane> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<ControlClient> client_;
  absl::Mutex mu_;
  int installs_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ControlClientLimitsTest, ASnapshotUpToTheSharedLimitIsInstalled) {
  // Far above gRPC's 4 MiB default receive limit.
  StartStandIn(SnapshotOfSize(kMaxGrpcMessageBytes - 1024));
  StartClient();
  ASSERT_TRUE(testing::WaitFor([&] { return !service_->records().empty(); }, absl::Seconds(30)));
  StreamRecord first = service_->records()[0];
  EXPECT_TRUE(first.acked);
  EXPECT_EQ(installs(), 1);
}

TEST_F(ControlClientLimitsTest, ASnapshotAboveTheSharedLimitIsNeverInstalled) {
  StartStandIn(SnapshotOfSize(kMaxGrpcMessageBytes + (1u << 20)));
  StartClient();
  // The data plane's receive limit ends the stream before the snapshot reaches `install`.
  ASSERT_TRUE(testing::WaitFor([&] { return !service_->records().empty(); }, absl::Seconds(30)));
  StreamRecord first = service_->records()[0];
  EXPECT_TRUE(first.hello);
  EXPECT_TRUE(first.ended_without_answer);
  EXPECT_FALSE(first.acked);
  EXPECT_EQ(installs(), 0);
}

TEST_F(ControlClientLimitsTest, AMessageAboveTheSharedLimitIsNeverSent) {
  StartStandIn(SnapshotOfSize(1024));
  // A Hello larger than the limit fails in the data plane; the control plane never receives it.
  StartClient(std::string(kMaxGrpcMessageBytes + (1u << 20), 'd'));
  ASSERT_TRUE(testing::WaitFor([&] { return !service_->records().empty(); }, absl::Seconds(30)));
  StreamRecord first = service_->records()[0];
  EXPECT_FALSE(first.hello) << "a Hello of " << first.hello_id_bytes << " bytes arrived";
  EXPECT_EQ(installs(), 0);
}

}  // namespace
}  // namespace valet
