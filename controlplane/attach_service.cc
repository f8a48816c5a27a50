#include "controlplane/attach_service.h"

#include <memory>
#include <string>
#include <utility>

#include "common/logging.h"
#include "common/send_queue.h"

namespace valet {

class AttachService::Reactor final
    : public grpc::ServerBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage> {
 public:
  Reactor(AttachService* service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), peer_(context->peer()) {
    service_->Add(this);
    StartRead(&in_);
  }

  // Queues `message` (a snapshot) unless a newer or equal version is already queued or sent; a
  // snapshot still waiting is replaced (coalesced). Called by OnChange with the service's mutex
  // held (so this reactor is alive), or from a reaction. The message is shared by every stream and
  // never copied: the queue holds it while its write is in flight.
  void Offer(std::shared_ptr<const v1::ControlPlaneMessage> message) {
    const v1::ControlPlaneMessage* write;
    {
      absl::MutexLock lock(&mu_);
      uint64_t version = message->snapshot().version();
      if (!hello_ || finished_ || version <= highest_offered_) return;
      highest_offered_ = version;
      queue_.PushLatest(std::move(message));
      write = queue_.Next();  // Null while a write is in flight: OnWriteDone sends it.
    }
    if (write != nullptr) StartWrite(write);
  }

  // Queues a message that must arrive, in order (quota grants and stats come next). Called like
  // Offer: with the service's mutex held, or from a reaction. A data plane that lets more than the
  // queue's bound wait is cut off: its stream is cancelled, with a warning naming it.
  // True if the stream took it.
  bool Send(std::shared_ptr<const v1::ControlPlaneMessage> message) {
    const v1::ControlPlaneMessage* write = nullptr;
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (!hello_ || finished_ || overflowed_) return false;
      if (queue_.PushOrdered(std::move(message))) {
        write = queue_.Next();  // Null while a write is in flight: OnWriteDone sends it.
      } else {
        overflowed_ = true;
        cancel = true;
        queue_.Clear();
        VALET_LOG(WARNING) << "data plane " << id_ << " (" << peer_ << ") does not read its "
                           << "attach stream: " << queue_.max_ordered()
                           << " messages wait for it; closing the stream";
      }
    }
    if (write != nullptr) StartWrite(write);
    // The write in flight then fails and the stream finishes.
    if (cancel) context_->TryCancel();
    return !cancel;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        read_done_ = true;
        if (!MaybeFinishLocked()) return;
      }
      Finish(grpc::Status::OK);
      return;
    }
    switch (in_.kind_case()) {
      case v1::DataPlaneMessage::kHello:
        OnHello(in_.hello());
        break;
      case v1::DataPlaneMessage::kAck:
        if (token_ != 0) service_->registry_->Acked(token_, in_.ack().version());
        break;
      case v1::DataPlaneMessage::kNack:
        if (token_ != 0) {
          VALET_LOG(WARNING) << "data plane " << id_ << " refused version " << in_.nack().version()
                             << ": " << in_.nack().reason();
          service_->registry_->Nacked(token_, in_.nack().version(), in_.nack().reason());
        }
        break;
      case v1::DataPlaneMessage::kReport:
        if (token_ != 0) service_->registry_->Reported(token_, in_.report());
        if (token_ != 0 && service_->quota_ != nullptr) {
          service_->quota_->ReportedStatus(id_, in_.report());
        }
        break;
      case v1::DataPlaneMessage::kQuotaRequest:
        if (token_ != 0 && service_->quota_ != nullptr) {
          auto grant = std::make_shared<v1::ControlPlaneMessage>();
          *grant->mutable_quota_grant() = service_->quota_->Grant(id_, in_.quota_request());
          Send(std::move(grant));
        }
        break;
      case v1::DataPlaneMessage::kUsageReport:
        if (token_ != 0 && service_->quota_ != nullptr) {
          service_->quota_->Report(id_, in_.usage_report());
        }
        break;
      case v1::DataPlaneMessage::kQuotaReturn:
        if (token_ != 0 && service_->quota_ != nullptr) {
          service_->quota_->Return(id_, in_.quota_return());
        }
        break;
      case v1::DataPlaneMessage::kRecorded:
        if (token_ != 0 && service_->recorder_ != nullptr) service_->recorder_->Add(in_.recorded());
        break;
      default:
        break;  // A kind this version does not know: ignore it, for forward compatibility.
    }
    {
      // A failed write may have finished the stream meanwhile: no new read after Finish.
      absl::MutexLock lock(&mu_);
      if (finished_) {
        read_done_ = true;
        return;
      }
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const v1::ControlPlaneMessage* write = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.WriteDone();  // The write is done with the (shared) message.
      if (!ok) {
        write_failed_ = true;
        queue_.Clear();
      } else if (!finished_) {
        write = queue_.Next();
      }
      if (write == nullptr) finish = MaybeFinishLocked();
    }
    // Outside mu_: OnDone (which deletes this) may follow Finish at once.
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override {
    if (token_ != 0) {
      service_->registry_->Disconnected(token_);
      if (service_->quota_ != nullptr) service_->quota_->Detached(id_);
      VALET_LOG(INFO) << "data plane " << id_ << " (" << peer_ << ") detached";
    }
    // Last touch of service_, under its mutex, which its destructor takes (see there).
    service_->Remove(this);
    delete this;
  }

 private:
  void OnHello(const v1::Hello& hello) {
    if (token_ != 0) return;  // A second Hello changes nothing.
    // A version is only meaningful within its epoch: another numbering's version 7 is not ours.
    const uint64_t epoch = service_->store_->epoch();
    const bool same_epoch = hello.epoch() == epoch;
    id_ = hello.id().empty() ? peer_ : hello.id();
    token_ = service_->registry_->Connected(id_, hello.address(), peer_,
                                            same_epoch ? hello.version() : 0);
    if (service_->quota_ != nullptr) service_->quota_->Attached(id_);
    VALET_LOG(INFO) << "data plane " << id_ << " (" << peer_ << ") attached at version "
                    << hello.version()
                    << (same_epoch || hello.version() == 0 ? "" : " of another epoch");
    // Tells the data plane it is attached even when it has nothing to receive. Started before
    // hello_ is set, so no write (from OnChange) can race with it.
    StartSendInitialMetadata();
    {
      absl::MutexLock lock(&mu_);
      hello_ = true;
    }
    // Read the current snapshot after hello_ is set: a version published from here on is offered
    // by OnChange, one published before is in this snapshot.
    std::shared_ptr<const v1::ControlPlaneMessage> current = service_->store_->snapshot_message();
    uint64_t current_version = current->snapshot().version();
    if (!same_epoch || current_version != hello.version()) {
      Offer(std::move(current));
    } else {
      absl::MutexLock lock(&mu_);
      if (highest_offered_ < current_version) highest_offered_ = current_version;
    }
  }

  // True if the caller must call Finish now (exactly once).
  bool MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || queue_.writing() || !(read_done_ || write_failed_)) return false;
    finished_ = true;
    return true;
  }

  AttachService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string peer_;
  // Touched by reads only, which are sequential (id_ is read by Send once hello_ is set).
  v1::DataPlaneMessage in_;
  std::string id_;
  uint64_t token_ = 0;

  absl::Mutex mu_;
  bool hello_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t highest_offered_ ABSL_GUARDED_BY(mu_) = 0;
  // Snapshots coalesce; other kinds wait in order. One write in flight, held by the queue.
  SendQueue<v1::ControlPlaneMessage> queue_ ABSL_GUARDED_BY(mu_);
};

AttachService::AttachService(AppStore* store, DataplaneRegistry* registry)
    : store_(store), registry_(registry) {
  listener_id_ = store_->Subscribe([this](const StoreChange& change) { OnChange(change); });
}

AttachService::~AttachService() {
  store_->Unsubscribe(listener_id_);
  // The server's shutdown has waited for every reactor's OnDone; taking mu_ orders their last
  // accesses to this service (Remove is the last) before its members go, for readers and for
  // ThreadSanitizer, which cannot see gRPC's own wait.
  absl::MutexLock lock(&mu_);
}

grpc::ServerBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage>* AttachService::Attach(
    grpc::CallbackServerContext* context) {
  if (grpc::Status denied = AuthorizeCall(auth_, *context, "/valet.v1.AttachService/Attach");
      !denied.ok()) {
    return new RefusedBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage>(denied);
  }
  // Tells the data plane's client that a control plane answered (see dataplane/control_client.cc).
  context->AddInitialMetadata("valet-attached", "1");
  return new Reactor(this, context);
}

void AttachService::OnChange(const StoreChange& change) {
  absl::MutexLock lock(&mu_);
  for (Reactor* r : reactors_) r->Offer(change.message);
}

size_t AttachService::SendToAll(std::shared_ptr<const v1::ControlPlaneMessage> message) {
  absl::MutexLock lock(&mu_);
  size_t sent = 0;
  for (Reactor* r : reactors_) sent += r->Send(message) ? 1 : 0;
  return sent;
}

void AttachService::Add(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactors_.insert(reactor);
}

void AttachService::Remove(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  reactors_.erase(reactor);
}

}  // namespace valet
