#include "controlplane/dataplane_registry.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"

namespace valet {
namespace {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace

DataplaneRegistry::DataplaneRegistry(absl::Duration keep_disconnected)
    : keep_disconnected_(keep_disconnected), timer_([this] { TimerLoop(); }) {}

DataplaneRegistry::~DataplaneRegistry() {
  Shutdown();
  {
    absl::MutexLock lock(&mu_);
    exiting_ = true;
    timer_cv_.SignalAll();
  }
  timer_.join();
}

void DataplaneRegistry::Shutdown() {
  std::vector<Ready> ready;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    ready = CollectLocked(absl::Now());
  }
  Run(std::move(ready));
}

uint64_t DataplaneRegistry::Connected(const std::string& id, const std::string& address,
                                      const std::string& peer, uint64_t version) {
  std::vector<Ready> ready;
  uint64_t token;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    PruneLocked(now);
    // The id's disconnected entries are replaced by this one; a NACK they hold carries over only
    // while this data plane serves an older version than the refused one.
    uint64_t nack_version = 0;
    std::string nack_reason;
    for (auto it = entries_.lower_bound(Key(id, ""));
         it != entries_.end() && it->first.first == id;) {
      const v1::DataPlaneStatus& old = it->second.status;
      if (it->first.second == peer) {
        ++it;
      } else if (!old.connected()) {
        if (old.last_nack_version() > nack_version) {
          nack_version = old.last_nack_version();
          nack_reason = old.last_nack_reason();
        }
        it = entries_.erase(it);
      } else {
        VALET_LOG(WARNING) << "data plane id \"" << id << "\" attached from " << peer
                           << " while still attached from " << it->first.second
                           << ": both are listed; give each data plane its own --id";
        ++it;
      }
    }
    Entry& e = entries_[Key(id, peer)];
    if (e.status.last_nack_version() > nack_version) {
      nack_version = e.status.last_nack_version();
      nack_reason = e.status.last_nack_reason();
    }
    if (nack_version > version) {
      e.status.set_last_nack_version(nack_version);
      e.status.set_last_nack_reason(nack_reason);
    } else {
      e.status.clear_last_nack_version();
      e.status.clear_last_nack_reason();
    }
    token = next_token_++;
    e.token = token;
    e.status.set_id(id);
    e.status.set_address(address);
    e.status.set_peer(peer);
    SetTimestamp(now, e.status.mutable_connected_since());
    e.status.set_version(version);
    e.status.set_connected(true);
    e.status.clear_last_report();
    e.status.clear_last_report_time();
    e.status.clear_reports();
    ready = CollectLocked(now);
  }
  Run(std::move(ready));
  return token;
}

void DataplaneRegistry::Acked(uint64_t token, uint64_t version) {
  std::vector<Ready> ready;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = FindLocked(token);
    if (e == nullptr) return;
    e->status.set_version(version);
    if (version >= e->status.last_nack_version()) {  // A later version works: the NACK is history.
      e->status.clear_last_nack_version();
      e->status.clear_last_nack_reason();
    }
    ready = CollectLocked(absl::Now());
  }
  Run(std::move(ready));
}

void DataplaneRegistry::Nacked(uint64_t token, uint64_t version, const std::string& reason) {
  std::vector<Ready> ready;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = FindLocked(token);
    if (e == nullptr) return;
    e->status.set_last_nack_version(version);
    e->status.set_last_nack_reason(reason);
    ready = CollectLocked(absl::Now());
  }
  Run(std::move(ready));
}

void DataplaneRegistry::Reported(uint64_t token, const v1::StatusReport& report) {
  absl::MutexLock lock(&mu_);
  Entry* e = FindLocked(token);
  if (e == nullptr) return;
  *e->status.mutable_last_report() = report;
  SetTimestamp(absl::Now(), e->status.mutable_last_report_time());
  e->status.set_reports(e->status.reports() + 1);
}

void DataplaneRegistry::Disconnected(uint64_t token) {
  std::vector<Ready> ready;
  {
    absl::MutexLock lock(&mu_);
    Entry* e = FindLocked(token);
    if (e == nullptr) return;
    e->status.set_connected(false);
    e->disconnected_at = absl::Now();
    // Another stream of this id is attached (it took over): the ended one leaves the list.
    const std::string id = e->status.id();
    for (auto it = entries_.lower_bound(Key(id, "")); it != entries_.end() && it->first.first == id;
         ++it) {
      if (it->second.status.connected()) {
        entries_.erase(Key(id, e->status.peer()));
        break;
      }
    }
    ready = CollectLocked(absl::Now());
  }
  Run(std::move(ready));
}

std::vector<v1::DataPlaneStatus> DataplaneRegistry::List() const {
  absl::MutexLock lock(&mu_);
  absl::Time now = absl::Now();
  std::vector<v1::DataPlaneStatus> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    if (!e.status.connected() && now - e.disconnected_at > keep_disconnected_) continue;
    out.push_back(e.status);
    if (e.status.has_last_report_time()) {
      absl::Time at = absl::FromUnixSeconds(e.status.last_report_time().seconds()) +
                      absl::Nanoseconds(e.status.last_report_time().nanos());
      out.back().set_last_report_age_ms(
          static_cast<uint64_t>(std::max<int64_t>(0, absl::ToInt64Milliseconds(now - at))));
    }
  }
  return out;
}

uint64_t DataplaneRegistry::WaitForVersion(uint64_t version, absl::Time deadline, WaitDone done) {
  std::vector<Ready> ready;
  uint64_t id;
  bool pending = false;
  {
    absl::MutexLock lock(&mu_);
    id = next_wait_id_++;
    waiters_.push_back(Waiter{id, version, deadline, std::move(done)});
    ready = CollectLocked(absl::Now());
    for (const Waiter& w : waiters_) pending = pending || w.id == id;
    if (pending) timer_cv_.SignalAll();  // A new, possibly earlier, deadline.
  }
  Run(std::move(ready));
  return pending ? id : 0;
}

bool DataplaneRegistry::CancelWait(uint64_t wait_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->id == wait_id) {
      waiters_.erase(it);
      return true;
    }
  }
  return false;
}

size_t DataplaneRegistry::pending_waits() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

bool DataplaneRegistry::EvaluateLocked(uint64_t version, v1::WaitForVersionResponse* r) const {
  r->set_version(version);
  for (const auto& [id, e] : entries_) {
    if (!e.status.connected()) continue;
    if (e.status.version() >= version) {
      *r->add_acked() = e.status;
    } else if (e.status.last_nack_version() >= version) {
      *r->add_nacked() = e.status;
    } else {
      *r->add_pending() = e.status;
    }
  }
  r->set_complete(r->pending_size() == 0);
  return r->complete();
}

std::vector<DataplaneRegistry::Ready> DataplaneRegistry::CollectLocked(absl::Time now) {
  std::vector<Ready> ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    v1::WaitForVersionResponse response;
    bool complete = EvaluateLocked(it->version, &response);
    if (complete || now >= it->deadline || stopping_) {
      ready.push_back(Ready{std::move(it->done), std::move(response)});
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

void DataplaneRegistry::PruneLocked(absl::Time now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (!e.status.connected() && now - e.disconnected_at > keep_disconnected_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

DataplaneRegistry::Entry* DataplaneRegistry::FindLocked(uint64_t token) {
  for (auto& [id, e] : entries_) {
    if (e.token == token) return &e;
  }
  return nullptr;
}

void DataplaneRegistry::Run(std::vector<Ready> ready) {
  for (Ready& r : ready) r.done(std::move(r.response));
}

void DataplaneRegistry::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!exiting_) {
    absl::Time next = absl::InfiniteFuture();
    for (const Waiter& w : waiters_) next = std::min(next, w.deadline);
    timer_cv_.WaitWithDeadline(&mu_, next);
    if (exiting_) break;
    std::vector<Ready> ready = CollectLocked(absl::Now());
    if (ready.empty()) continue;
    mu_.Unlock();
    Run(std::move(ready));
    mu_.Lock();
  }
}

}  // namespace valet
