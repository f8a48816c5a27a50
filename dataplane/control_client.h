// ControlClient: the data plane's side of the attach stream.
//
// A dedicated thread attaches to a control plane (the targets in turn), sends Hello with the
// version the data plane serves, and for each snapshot received calls `install` (compile + hand
// to the workers). An error is answered with a Nack carrying it as the reason. Otherwise the
// client waits until install reports the snapshot served by every worker, and only then answers
// Ack, so an Ack (and `valetctl apply --wait`) means served; if that does not happen within
// serve_timeout (a worker stuck or stopping), it answers Nack saying so. The snapshot served is
// saved to `cache_dir` before the Ack (only good snapshots are cached). When the stream fails it
// retries forever, waiting as ReconnectBackoff says (every wait within [min_backoff, max_backoff],
// back to the bottom once a stream was up), moving to the next target after a failed attempt, until
// Stop(). Each attempt dials on a fresh channel, so nothing but that wait delays it: a control
// plane that comes back is attached within max_backoff plus the time to connect. An attempt fails
// when the channel is not connected within attach_timeout (a frozen control plane accepts TCP but
// never answers). Messages both ways are limited to kMaxGrpcMessageBytes (common/message_limits.h);
// a larger snapshot ends the stream and is never installed. While attached, the client pings every
// keepalive_time, with or without data and for as long as the stream lasts, and drops the stream
// when a ping is not answered within keepalive_timeout; the next attempt goes to the same control
// plane, then to the next. A failed attach is logged as a WARNING the first time and then every
// kWarnEveryFailures-th consecutive time (each at DEBUG).
//
// Threading: `install` and `serving` run on the client's thread; install must not block
// long (the wait for `served` is the client's, in slices, so Stop stays prompt). connected() may be
// called from any thread. Lifetime: Stop() (or the destructor) cancels the stream, wakes the
// backoff and joins the thread promptly; install is not called afterwards.
#ifndef VALET_DATAPLANE_CONTROL_CLIENT_H_
#define VALET_DATAPLANE_CONTROL_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/send_queue.h"
#include "dataplane/snapshot_cache.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "valet/v1/attach.grpc.pb.h"
#include "valet/v1/config.pb.h"

namespace valet {

struct ControlClientOptions {
  std::vector<std::string> targets;  // HOST:PORT of control planes, tried in turn.
  std::string id;                    // Stable name of this data plane.
  std::string address;               // The proxy listener it serves on.
  std::string cache_dir;             // Empty: no cache.
  absl::Duration min_backoff = absl::Milliseconds(100);  // 0 < min_backoff <= max_backoff.
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration keepalive_time = absl::Seconds(10);  // The control plane permits 5 s.
  absl::Duration keepalive_timeout = absl::Seconds(5);
  absl::Duration attach_timeout = absl::Seconds(10);  // Until the channel is connected.
  // From install's OK until every worker serves the snapshot; past it the answer is a Nack.
  absl::Duration serve_timeout = absl::Seconds(10);
  // Security (docs/security.md): the channel's credentials (null: plain text), and a file holding
  // the token sent as `authorization: Bearer` on each attach (empty: none), read at each attempt
  // so that a new token needs no restart.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token_file;
  // Between two StatusReports on a stream (the first one this long after the attach); zero: none.
  absl::Duration report_interval = absl::Seconds(5);
};

// Called once every worker serves an installed snapshot; from any thread, at most once, and
// possibly after the client gave up waiting (it stays safe to call).
using ServedFn = std::function<void()>;

// Compiles a snapshot and hands it to the workers; an error is the NACK reason and the old
// snapshot stays. On OK, the ACK waits for `served`.
using InstallFn = std::function<absl::Status(const v1::ConfigSnapshot&, ServedFn served)>;

// What the data plane serves: the (epoch, version) of its snapshot (0, 0 for none).
struct ServedVersion {
  uint64_t epoch = 0;
  uint64_t version = 0;
};
using ServingFn = std::function<ServedVersion()>;

// The data plane's status for a StatusReport (the client sets `sequence`); from the sender thread,
// must not block. Without one, reports carry what `serving` says.
using ReportFn = std::function<v1::StatusReport()>;

class ControlClient {
 public:
  static constexpr int kWarnEveryFailures = 10;

  static std::unique_ptr<ControlClient> Create(ControlClientOptions options, InstallFn install,
                                               ServingFn serving, ReportFn report = nullptr);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  void Start();
  void Stop();  // Prompt; joins everything. Idempotent.

  // Record and replay (docs/mocks.md): called on the client's thread for each RecordStart the
  // control plane sends; must not block. Set before Start.
  void set_record_handler(std::function<void(const v1::RecordStart&)> handler) {
    record_handler_ = std::move(handler);
  }

  // Any thread: queues `message` (in order, never dropped while the stream lasts) on the attached
  // stream. False, and nothing sent, while detached.
  bool Send(v1::DataPlaneMessage message);

  // True while a stream is attached (the control plane answered the Hello).
  bool connected() const { return connected_.load(); }

  // Global rate limits (limits/quota_broker.h). `attached(true)` runs on the client's thread once
  // a stream is up (before its first message is read; what it Sends goes first), `attached(false)`
  // once that stream is over; `message` gets every ControlPlaneMessage but snapshots (quota
  // grants), on the client's thread, in order. Set before Start; must not block.
  void set_stream_hooks(std::function<void(bool attached)> attached,
                        std::function<void(const v1::ControlPlaneMessage&)> message) {
    on_attached_ = std::move(attached);
    on_message_ = std::move(message);
  }
  // Runs `tick` on the stream's sender thread every `every` while a stream is attached (rate
  // limits give idle quota back from it); it may Send, must not block. Set before Start.
  void set_tick(absl::Duration every, std::function<void()> tick) {
    tick_every_ = every;
    tick_ = std::move(tick);
  }

 private:
  ControlClient(ControlClientOptions options, InstallFn install, ServingFn serving,
                ReportFn report);
  using Stream = grpc::ClientReaderWriter<v1::DataPlaneMessage, v1::ControlPlaneMessage>;

  void Loop();
  // One attach attempt; returns true if the control plane answered (the stream was up).
  bool RunStream(const std::string& target);
  // A fresh channel for one attempt (see NewChannel in the .cc for why not one per target).
  std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) const;
  void ReportAttachFailure(const std::string& target, const std::string& reason);
  // Waits until `served` is notified: OK, DeadlineExceeded (the NACK reason) after
  // serve_timeout, Cancelled once Stop() was called.
  absl::Status AwaitServed(const absl::Notification& served, uint64_t version);
  // The sender thread of one stream: writes what the outbox holds and queues the reports.
  void SendLoop(Stream* stream, grpc::ClientContext* context);
  // Queues `message` for the sender. False if the stream is over or the outbox is full (the
  // stream is then cancelled, with a warning).
  bool Enqueue(v1::DataPlaneMessage message, grpc::ClientContext* context);
  v1::StatusReport MakeReport();

  const ControlClientOptions options_;
  const InstallFn install_;
  const ServingFn serving_;
  const ReportFn report_;
  std::function<void(const v1::RecordStart&)> record_handler_;
  std::function<void(bool)> on_attached_;
  std::function<void(const v1::ControlPlaneMessage&)> on_message_;
  absl::Duration tick_every_ = absl::InfiniteDuration();
  std::function<void()> tick_;
  int failed_attaches_ = 0;  // Consecutive; client thread.
  std::atomic<bool> connected_{false};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // Of the stream in progress.
  std::thread thread_;

  // The stream's outgoing messages; a fresh outbox per stream.
  absl::Mutex out_mu_ ABSL_ACQUIRED_AFTER(mu_);
  SendQueue<v1::DataPlaneMessage> outbox_ ABSL_GUARDED_BY(out_mu_);
  bool outbox_closed_ ABSL_GUARDED_BY(out_mu_) = true;  // No stream, or it is over.
};

}  // namespace valet

#endif  // VALET_DATAPLANE_CONTROL_CLIENT_H_
