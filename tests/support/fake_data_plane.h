// A data plane stand-in for control plane tests: the data plane's real attach client
// (ControlClient, over a real gRPC stream) with an installer that records each snapshot instead
// of compiling it. It can refuse versions (NACK "fake refusal of version N") or hold an install
// (no answer until released), and reports the counters a test sets.
//
// Threading: every method is thread-safe. Lifetime: clients made by Client() call back into
// this object, so destroy them first; release a Hold() before destroying a client blocked in it.
#ifndef VALET_TESTS_SUPPORT_FAKE_DATA_PLANE_H_
#define VALET_TESTS_SUPPORT_FAKE_DATA_PLANE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dataplane/control_client.h"
#include "valet/v1/attach.pb.h"
#include "valet/v1/config.pb.h"

namespace valet::testing {

class FakeDataPlane {
 public:
  absl::Status Install(const v1::ConfigSnapshot& snapshot) {
    absl::MutexLock lock(&mu_);
    auto released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_; };
    mu_.Await(absl::Condition(&released));
    received_.push_back(snapshot.version());
    if (refuse_from_ != 0 && snapshot.version() >= refuse_from_) {
      return absl::InvalidArgumentError(
          absl::StrCat("fake refusal of version ", snapshot.version()));
    }
    serving_ = snapshot.version();
    epoch_ = snapshot.epoch();
    return absl::OkStatus();
  }
  uint64_t serving() {
    absl::MutexLock lock(&mu_);
    return serving_;
  }
  std::vector<uint64_t> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  void set_serving(uint64_t v, uint64_t epoch) {
    absl::MutexLock lock(&mu_);
    serving_ = v;
    epoch_ = epoch;
  }
  ServedVersion served() {
    absl::MutexLock lock(&mu_);
    return {epoch_, serving_};
  }
  void RefuseFrom(uint64_t v) {
    absl::MutexLock lock(&mu_);
    refuse_from_ = v;
  }
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  // What its status reports count as requests and errors.
  void SetCounters(uint64_t requests, uint64_t errors) {
    absl::MutexLock lock(&mu_);
    requests_ = requests;
    errors_ = errors;
  }
  v1::StatusReport Report() {
    absl::MutexLock lock(&mu_);
    v1::StatusReport report;
    report.set_version(serving_);
    report.set_epoch(epoch_);
    report.set_workers(2);
    report.set_requests(requests_);
    report.set_errors(errors_);
    return report;
  }

  std::unique_ptr<ControlClient> Client(const std::string& target, const std::string& id,
                                        const std::string& cache_dir = "") {
    ControlClientOptions options;
    options.targets = {target};
    return Client(options, id, cache_dir);
  }
  std::unique_ptr<ControlClient> Client(ControlClientOptions options, const std::string& id,
                                        const std::string& cache_dir = "") {
    options.id = id;
    options.address = "127.0.0.1:8000";
    options.cache_dir = cache_dir;
    options.min_backoff = absl::Milliseconds(20);
    options.max_backoff = absl::Milliseconds(200);
    return ControlClient::Create(
        options,
        [this](const v1::ConfigSnapshot& s, ServedFn served) {
          absl::Status installed = Install(s);
          if (installed.ok()) served();  // No workers: it serves once installed.
          return installed;
        },
        [this] { return served(); }, [this] { return Report(); });
  }

 private:
  absl::Mutex mu_;
  uint64_t serving_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refuse_from_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> received_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_FAKE_DATA_PLANE_H_
