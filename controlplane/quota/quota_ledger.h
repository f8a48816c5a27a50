// The control plane's side of global rate limits: per budget and fixed window, how much quota it
// granted to each data plane, and the grants it makes from what is left.
//
// A grant is at most max(1, left / (2 * attached data planes)): large while much is left, down to
// one request at a time near the limit, so that the sum granted in a window never passes the
// limit and little can be stranded on a data plane that stops spending. A data plane that
// (re)attaches reports what it spent in the current windows; the ledger counts the larger of that
// and what it granted it, so a restarted control plane continues the window instead of starting
// it again. Quota a data plane gives back unspent (QuotaReturn) is granted again in the same
// window. Thread-safe (one short lock per call; called from gRPC reactions).
#ifndef VALET_CONTROLPLANE_QUOTA_QUOTA_LEDGER_H_
#define VALET_CONTROLPLANE_QUOTA_QUOTA_LEDGER_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "valet/v1/attach.pb.h"

namespace valet {

class QuotaLedger {
 public:
  // Data planes attached now (the divisor of grants and of the fallback share).
  void Attached(const std::string& data_plane);
  void Detached(const std::string& data_plane);

  // Grants quota of request.budget in request.window to `data_plane`.
  v1::QuotaGrant Grant(const std::string& data_plane, const v1::QuotaRequest& request);

  // Counts what `data_plane` spent (at least what it was granted).
  void Report(const std::string& data_plane, const v1::UsageReport& report);

  // Takes back quota `data_plane` did not spend (at most what it holds of that window; a window
  // that is over is ignored).
  void Return(const std::string& data_plane, const v1::QuotaReturn& given_back);

  // Takes the refusals a status report carries (the latest report of each data plane counts).
  void ReportedStatus(const std::string& data_plane, const v1::StatusReport& report);

  // One budget at `window`: granted in it, and refused in it and in the one before (summed over
  // the data planes' latest reports).
  struct Usage {
    uint64_t used = 0;
    uint64_t refused = 0;
    uint64_t refused_last_window = 0;
  };
  Usage Query(const v1::BudgetKey& budget, uint64_t window) const;

  // What the ledger knows of one budget's current window (for queries and tests).
  struct WindowState {
    uint64_t window = 0;
    uint32_t limit = 0;
    uint64_t granted = 0;
  };
  bool Find(const v1::BudgetKey& budget, WindowState* state) const;

 private:
  using Key = std::tuple<std::string, bool, std::string, uint32_t>;  // app, for_consumer, name,
                                                                     // period.
  struct Window {
    uint64_t index = 0;
    uint32_t limit = 0;
    uint64_t granted = 0;  // Sum of by_data_plane.
    std::map<std::string, uint64_t> by_data_plane;
  };
  static Key KeyOf(const v1::BudgetKey& budget);
  // The window `index` of `budget`, started afresh if the ledger holds an older one; null if the
  // ledger already holds a newer one (the request is late).
  Window* WindowFor(const v1::BudgetKey& budget, uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<Key, Window> windows_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> attached_ ABSL_GUARDED_BY(mu_);  // Streams per data plane id.
  struct Refusals {
    uint64_t window = 0;
    uint32_t refused = 0;
    uint32_t refused_last_window = 0;
  };
  // Per budget, per data plane: its last reported refusals.
  std::map<Key, std::map<std::string, Refusals>> refusals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace valet

#endif  // VALET_CONTROLPLANE_QUOTA_QUOTA_LEDGER_H_
