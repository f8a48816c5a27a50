// AttachService: the long-lived stream on which each data plane attaches (like xDS's ADS).
//
// Per stream: the first message must be a Hello; the data plane is recorded in the registry and,
// if the (epoch, version) it serves differs from the current one, gets the current snapshot (a
// version of another epoch does not count as ACKed). Each new version of the AppStore is pushed to
// every attached data plane. Each stream sends through a SendQueue (common/send_queue.h) with one
// write in flight: snapshots coalesce (versions that arrive while a write is in flight replace the
// one waiting, only the newest is sent next); other kinds (quota grants and stats next) wait in
// order and are never dropped, at most SendQueue::kDefaultMaxOrdered (1024) of them: a data plane
// that lets more wait is cut off (its stream cancelled, with a warning naming it) and attaches
// again. Every stream writes the same immutable snapshot message the AppStore built once for the
// version (no copy per data plane). ACKs, NACKs and status reports go to the registry; quota
// requests are answered with a grant (in order, like every kind but snapshots) and usage reports
// go to the quota ledger.
//
// Threading: gRPC callback API; reactions never block (they take short locks only). A reactor
// deletes itself in OnDone. Lifetime: `store` and `registry` outlive the service; the service
// outlives the grpc::Server it is registered with (shut the server down, then destroy this).
#ifndef VALET_CONTROLPLANE_ATTACH_SERVICE_H_
#define VALET_CONTROLPLANE_ATTACH_SERVICE_H_

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controlplane/app_store.h"
#include "controlplane/call_auth.h"
#include "controlplane/dataplane_registry.h"
#include "controlplane/mock_recorder.h"
#include "controlplane/quota/quota_ledger.h"
#include "valet/v1/attach.grpc.pb.h"

namespace valet {

class AttachService final : public v1::AttachService::CallbackService {
 public:
  AttachService(AppStore* store, DataplaneRegistry* registry);
  ~AttachService() override;
  AttachService(const AttachService&) = delete;
  AttachService& operator=(const AttachService&) = delete;

  // Checks each Attach call's token (or client certificate) before the stream starts; null (the
  // default) lets every call attach. Set before the service is registered.
  void set_authorizer(const CallAuthorizer* auth) { auth_ = auth; }
  // Where recorded answers (DataPlaneMessage.recorded) go; null: dropped. Set before registering.
  void set_mock_recorder(MockRecorder* recorder) { recorder_ = recorder; }

  // Queues `message` (in order) on every attached stream; returns how many took it.
  size_t SendToAll(std::shared_ptr<const v1::ControlPlaneMessage> message);
  // Answers quota requests and takes usage reports (global rate limits); null (the default)
  // ignores them. Set before the service is registered; outlives it.
  void set_quota(QuotaLedger* quota) { quota_ = quota; }

  grpc::ServerBidiReactor<v1::DataPlaneMessage, v1::ControlPlaneMessage>* Attach(
      grpc::CallbackServerContext* context) override;

 private:
  class Reactor;

  void OnChange(const StoreChange& change);
  void Add(Reactor* reactor);
  void Remove(Reactor* reactor);

  AppStore* const store_;
  DataplaneRegistry* const registry_;
  int listener_id_ = 0;
  const CallAuthorizer* auth_ = nullptr;
  MockRecorder* recorder_ = nullptr;
  QuotaLedger* quota_ = nullptr;

  absl::Mutex mu_;  // Acquired before each reactor's own mutex.
  std::set<Reactor*> reactors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_ATTACH_SERVICE_H_
