#include "controlplane/attach_service.h"

#include <memory>
#include <string>
#include <utility>

#include "common/logging.h"

namespace valet {

class AttachService::Reactor final
    : public grpc::ServerBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage> {
 public:
  Reactor(AttachService* service, std::string peer) : service_(service), peer_(std::move(peer)) {
    service_->Add(this);
    StartRead(&in_);
  }

  // Queues `message` (a snapshot) unless a newer or equal version is already queued or sent.
  // Called by OnChange with the service's mutex held (so this reactor is alive), or from a
  // reaction. The message is shared by every stream and never copied: the write in flight holds it.
  void Offer(std::shared_ptr<const v1::ControlPlaneMessage> message) {
    const v1::ControlPlaneMessage* write;
    {
      absl::MutexLock lock(&mu_);
      uint64_t version = message->snapshot().version();
      if (!hello_ || finished_ || version <= highest_offered_) return;
      highest_offered_ = version;
      next_ = std::move(message);
      if (writing_) return;  // OnWriteDone sends next_: coalesced.
      write = PrepareWriteLocked();
    }
    StartWrite(write);
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
      writing_ = false;
      in_flight_.reset();  // The write is done with the shared message.
      if (!ok) {
        write_failed_ = true;
      } else if (next_ != nullptr && !finished_) {
        write = PrepareWriteLocked();
      }
      if (write == nullptr) finish = MaybeFinishLocked();
    }
    // Outside mu_: OnDone (which deletes this) may follow Finish at once.
    if (write != nullptr) StartWrite(write);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override {
    service_->Remove(this);
    if (token_ != 0) {
      service_->registry_->Disconnected(token_);
      VALET_LOG(INFO) << "data plane " << id_ << " (" << peer_ << ") detached";
    }
    delete this;
  }

 private:
  void OnHello(const v1::Hello& hello) {
    if (token_ != 0) return;  // A second Hello changes nothing.
    id_ = hello.id().empty() ? peer_ : hello.id();
    // A version is only meaningful within its epoch: another numbering's version 7 is not ours.
    const uint64_t epoch = service_->store_->epoch();
    const bool same_epoch = hello.epoch() == epoch;
    token_ = service_->registry_->Connected(id_, hello.address(), peer_,
                                            same_epoch ? hello.version() : 0);
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

  // Moves next_ to the write in flight; the caller passes the result to StartWrite.
  const v1::ControlPlaneMessage* PrepareWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(next_);
    writing_ = true;
    return in_flight_.get();
  }

  // True if the caller must call Finish now (exactly once).
  bool MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || !(read_done_ || write_failed_)) return false;
    finished_ = true;
    return true;
  }

  AttachService* const service_;
  const std::string peer_;
  // Touched by reads only, which are sequential.
  v1::DataPlaneMessage in_;
  std::string id_;
  uint64_t token_ = 0;

  absl::Mutex mu_;
  bool hello_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t highest_offered_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const v1::ControlPlaneMessage> next_ ABSL_GUARDED_BY(mu_);
  // Held while its write is in flight (writing_): gRPC serialises from it until OnWriteDone.
  std::shared_ptr<const v1::ControlPlaneMessage> in_flight_ ABSL_GUARDED_BY(mu_);
};

AttachService::AttachService(AppStore* store, DataplaneRegistry* registry)
    : store_(store), registry_(registry) {
  listener_id_ = store_->Subscribe([this](const StoreChange& change) { OnChange(change); });
}

AttachService::~AttachService() { store_->Unsubscribe(listener_id_); }

grpc::ServerBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage>* AttachService::Attach(
    grpc::CallbackServerContext* context) {
  if (grpc::Status denied = AuthorizeCall(auth_, *context, "/valet.v1.AttachService/Attach");
      !denied.ok()) {
    return new RefusedBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage>(denied);
  }
  // Tells the data plane's client that a control plane answered (see dataplane/control_client.cc).
  context->AddInitialMetadata("valet-attached", "1");
  return new Reactor(this, context->peer());
}

void AttachService::OnChange(const StoreChange& change) {
  absl::MutexLock lock(&mu_);
  for (Reactor* r : reactors_) r->Offer(change.message);
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
