#include "dataplane/control_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/message_limits.h"
#include "common/tokens_file.h"
#include "dataplane/reconnect_backoff.h"

namespace valet {
namespace {

// Set by the control plane's AttachService on every accepted stream.
constexpr char kAttachedMetadataKey[] = "valet-attached";

}  // namespace

std::unique_ptr<ControlClient> ControlClient::Create(ControlClientOptions options,
                                                     InstallFn install, ServingFn serving,
                                                     ReportFn report) {
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(options), std::move(install),
                                                          std::move(serving), std::move(report)));
}

ControlClient::ControlClient(ControlClientOptions options, InstallFn install, ServingFn serving,
                             ReportFn report)
    : options_(std::move(options)),
      install_(std::move(install)),
      serving_(std::move(serving)),
      report_(std::move(report)) {}

ControlClient::~ControlClient() { Stop(); }

void ControlClient::Start() {
  if (thread_.joinable() || options_.targets.empty()) return;
  thread_ = std::thread([this] { Loop(); });
}

void ControlClient::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<grpc::Channel> ControlClient::NewChannel(const std::string& target) const {
  grpc::ChannelArguments args;
  // Notice a control plane that vanished or froze without closing the connection: ping for as
  // long as the (mostly idle) attach stream lasts. gRPC stops after 2 pings without data unless
  // MAX_PINGS_WITHOUT_DATA is 0.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_time)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.keepalive_timeout)));
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A snapshot carries every app: it exceeds gRPC's 4 MiB default, and the control plane sends
  // up to the limit every program shares (and never more: a larger message is refused).
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  // One channel per attempt, with subchannels of its own: an attempt dials now, instead of
  // reporting the TRANSIENT_FAILURE that gRPC keeps for a shared subchannel until its own
  // reconnect backoff (up to 1.2 x its maximum) has passed. ReconnectBackoff alone paces attempts.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MAX_METADATA_SIZE, 16 << 10);
  return grpc::CreateCustomChannel(
      target,
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
}

void ControlClient::Loop() {
  ReconnectBackoff backoff(options_.min_backoff, options_.max_backoff, std::random_device{}());
  size_t index = 0;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    bool was_up = RunStream(options_.targets[index]);
    connected_ = false;
    if (was_up) {
      backoff.Reset();  // Retry the same control plane first, soon.
    } else {
      index = (index + 1) % options_.targets.size();
    }
    absl::Duration wait = backoff.NextDelay();
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), wait);
  }
}

bool ControlClient::RunStream(const std::string& target) {
  std::shared_ptr<grpc::Channel> channel = NewChannel(target);
  // A control plane that accepts TCP but never answers (frozen) would hold the attach call until
  // gRPC's own connect timeout (20 s): bound it, then try the next target. Waits in slices so that
  // Stop() stays prompt.
  absl::Time connect_deadline = absl::Now() + options_.attach_timeout;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
    }
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) break;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      ReportAttachFailure(target, "connection failed");
      return false;
    }
    if (absl::Now() >= connect_deadline) {
      ReportAttachFailure(target, absl::StrCat("not connected within ",
                                               absl::FormatDuration(options_.attach_timeout)));
      return false;
    }
    absl::Time slice = std::min(connect_deadline, absl::Now() + absl::Milliseconds(100));
    channel->WaitForStateChange(state, absl::ToChronoTime(slice));
  }
  std::unique_ptr<v1::AttachService::Stub> stub = v1::AttachService::NewStub(channel);
  grpc::ClientContext context;
  if (!options_.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(options_.token_file);
    if (token.ok()) {
      context.AddMetadata("authorization", "Bearer " + *token);
    } else {
      VALET_LOG(WARNING) << "attaching without a token: " << token.status().message();
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
  }
  std::unique_ptr<Stream> stream = stub->Attach(&context);

  bool was_up = false;
  v1::DataPlaneMessage hello;
  hello.mutable_hello()->set_id(options_.id);
  hello.mutable_hello()->set_address(options_.address);
  ServedVersion served = serving_();
  hello.mutable_hello()->set_version(served.version);
  hello.mutable_hello()->set_epoch(served.epoch);
  if (stream->Write(hello)) {
    stream->WaitForInitialMetadata();
    // The control plane marks its answer to the Hello; a failed stream has no such metadata.
    was_up = context.GetServerInitialMetadata().count(kAttachedMetadataKey) > 0;
  }
  if (was_up) {
    connected_ = true;
    failed_attaches_ = 0;
    VALET_LOG(INFO) << "attached to control plane " << target << " at version "
                    << hello.hello().version();
    {
      absl::MutexLock lock(&out_mu_);
      outbox_.Clear();
      outbox_closed_ = false;
    }
    // From here on the sender thread alone writes; this thread reads (gRPC allows one of each).
    std::thread sender([this, &stream, &context] { SendLoop(stream.get(), &context); });
    if (on_attached_) on_attached_(true);
    v1::ControlPlaneMessage in;
    while (stream->Read(&in)) {
      if (in.kind_case() == v1::ControlPlaneMessage::kRecord) {
        if (record_handler_) record_handler_(in.record());
        continue;
      }
      if (in.kind_case() != v1::ControlPlaneMessage::kSnapshot) {
        if (on_message_) on_message_(in);
        continue;
      }
      const v1::ConfigSnapshot& snapshot = in.snapshot();
      // Shared with the workers: the last of them may notify it after this wait gave up.
      auto all_served = std::make_shared<absl::Notification>();
      absl::Status installed = install_(snapshot, [all_served] { all_served->Notify(); });
      if (!installed.ok()) {
        VALET_LOG(WARNING) << "refused snapshot version " << snapshot.version() << ": "
                           << installed.message();
      } else {
        installed = AwaitServed(*all_served, snapshot.version());
        if (absl::IsCancelled(installed)) break;  // Stopping: the stream is cancelled anyway.
        if (!installed.ok()) {
          VALET_LOG(WARNING) << "not acknowledging snapshot version " << snapshot.version() << ": "
                             << installed.message();
        }
      }
      v1::DataPlaneMessage answer;
      if (installed.ok()) {
        answer.mutable_ack()->set_version(snapshot.version());
      } else {
        answer.mutable_nack()->set_version(snapshot.version());
        answer.mutable_nack()->set_reason(std::string(installed.message()));
      }
      // Cache what serves before answering: if the answer cannot be sent, the snapshot serves
      // all the same, and a restart must not go back to an older one.
      if (installed.ok() && !options_.cache_dir.empty()) {
        absl::Status saved = SaveSnapshotCache(options_.cache_dir, snapshot);
        if (!saved.ok()) {
          VALET_LOG(WARNING) << "cannot cache the snapshot: " << saved.message();
        }
      }
      if (!Enqueue(std::move(answer), &context)) break;
    }
    {
      absl::MutexLock lock(&out_mu_);
      outbox_closed_ = true;
      outbox_.Clear();
    }
    // Prompt: the stream is over (its writes fail at once) or cancelled.
    sender.join();
    if (on_attached_) on_attached_(false);
  }
  connected_ = false;
  grpc::Status status = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (was_up) {
    VALET_LOG(WARNING) << "detached from control plane " << target << ": "
                       << status.error_message();
  } else {
    ReportAttachFailure(target, status.error_message());
  }
  return was_up;
}

absl::Status ControlClient::AwaitServed(const absl::Notification& served, uint64_t version) {
  absl::Time deadline = absl::Now() + options_.serve_timeout;
  // In slices, so that Stop() stays prompt; bounded by the deadline.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("stopping");
    }
    absl::Duration left = deadline - absl::Now();
    if (served.WaitForNotificationWithTimeout(std::min(left, absl::Milliseconds(100)))) {
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      // It may still serve later (the workers have it queued); the next ACK clears this NACK.
      return absl::DeadlineExceededError(absl::StrCat(
          "version ", version, " was not served by every worker within ",
          absl::FormatDuration(options_.serve_timeout), " (a worker is stuck or stopping)"));
    }
  }
}

bool ControlClient::Enqueue(v1::DataPlaneMessage message, grpc::ClientContext* context) {
  auto shared = std::make_shared<const v1::DataPlaneMessage>(std::move(message));
  {
    absl::MutexLock lock(&out_mu_);
    if (outbox_closed_) return false;
    if (outbox_.PushOrdered(std::move(shared))) return true;
    outbox_closed_ = true;
    outbox_.Clear();
  }
  VALET_LOG(WARNING) << "the control plane does not read the attach stream: "
                     << SendQueue<v1::DataPlaneMessage>::kDefaultMaxOrdered
                     << " messages wait for it; closing the stream";
  context->TryCancel();
  return false;
}

bool ControlClient::Send(v1::DataPlaneMessage message) {
  absl::MutexLock lock(&mu_);
  if (context_ == nullptr || !connected_.load()) return false;
  return Enqueue(std::move(message), context_);
}

v1::StatusReport ControlClient::MakeReport() {
  if (report_) return report_();
  v1::StatusReport report;
  ServedVersion served = serving_();
  report.set_version(served.version);
  report.set_epoch(served.epoch);
  return report;
}

void ControlClient::SendLoop(Stream* stream, grpc::ClientContext* context) {
  const bool reports = options_.report_interval > absl::ZeroDuration();
  absl::Time next_report =
      reports ? absl::Now() + options_.report_interval : absl::InfiniteFuture();
  absl::Time next_tick = tick_ ? absl::Now() + tick_every_ : absl::InfiniteFuture();
  uint64_t sequence = 0;
  // Each pass writes one message or queues one report; ends with the stream (bounded by it).
  for (;;) {
    {
      absl::MutexLock lock(&out_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(out_mu_) {
        return outbox_closed_ || !outbox_.empty();
      };
      out_mu_.AwaitWithDeadline(absl::Condition(&ready), std::min(next_report, next_tick));
      if (outbox_closed_) return;
    }
    const absl::Time now = absl::Now();
    if (now >= next_tick) {
      tick_();
      next_tick = now + tick_every_;
    }
    if (now >= next_report) {
      v1::DataPlaneMessage message;
      *message.mutable_report() = MakeReport();
      message.mutable_report()->set_sequence(++sequence);
      next_report = absl::Now() + options_.report_interval;
      if (!Enqueue(std::move(message), context)) return;
    }
    const v1::DataPlaneMessage* write;
    {
      absl::MutexLock lock(&out_mu_);
      if (outbox_closed_) return;
      write = outbox_.Next();
    }
    if (write == nullptr) continue;
    bool ok = stream->Write(*write);
    absl::MutexLock lock(&out_mu_);
    outbox_.WriteDone();
    if (!ok) {  // The stream failed: the reading thread sees it end.
      outbox_closed_ = true;
      outbox_.Clear();
      return;
    }
  }
}

void ControlClient::ReportAttachFailure(const std::string& target, const std::string& reason) {
  ++failed_attaches_;
  if (failed_attaches_ != 1 && failed_attaches_ % kWarnEveryFailures != 0) {
    VALET_LOG(DEBUG) << "cannot attach to control plane " << target << ": " << reason;
    return;
  }
  uint64_t served = serving_().version;
  VALET_LOG(WARNING) << "cannot attach to control plane " << target << ": " << reason << " ("
                     << failed_attaches_ << " failed attempt"
                     << (failed_attaches_ == 1 ? "" : "s in a row") << "; retrying; "
                     << (served == 0 ? std::string("no snapshot to serve yet")
                                     : absl::StrCat("still serving version ", served))
                     << ")";
}

}  // namespace valet
