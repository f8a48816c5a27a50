// ThreadSanitizer annotations for Debian's Abseil synchronisation library. Linked into every
// executable of the tsan preset (VALET_TSAN=ON) and nowhere else.
//
// Why: libabsl_synchronization.so is not built with -fsanitize=thread, so TSan does not see that
// absl::Mutex::Unlock on one thread happens before absl::Mutex::Lock on the next, nor that
// absl::Notification::Notify happens before a WaitForNotification that returns. It then reports
// every access to data guarded by those primitives as a race. An instrumented Abseil calls
// __tsan_mutex_* itself; this file does the equivalent from outside.
//
// How: each function below has the same (mangled) name as the library's exported member function.
// The executable's definition wins symbol resolution, for Valet's calls and for the calls gRPC
// makes through the dynamic linker. Each one calls the real function, found with
// dlsym(RTLD_NEXT, <mangled name>), and tells TSan about the ordering with __tsan_release (before
// giving a lock up or signalling) and __tsan_acquire (after taking a lock or being woken).
//
// Covered: Mutex Lock / Unlock / TryLock, their Reader* forms, LockWhen* and ReaderLockWhen*,
// Await*; CondVar::Wait* (which gives the mutex up while waiting); Notification Notify and
// WaitForNotification*; Condition::Eval (a condition's reads happen inside the lock operation, see
// there). HasBeenNotified is inline (an acquire load of the flag, instrumented in our code), so
// Notify releases on the flag's address and the waits acquire there. Readers are treated as writers
// (a reader unlock orders later readers too): this can hide a race between two readers, never
// invent one. The mangled names are those of Abseil 20220623 as Debian 12 ships it (inline
// namespace "debian3"); a missing one aborts at first use with its name.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* fn = dlsym(RTLD_NEXT, mangled);
  if (fn == nullptr) {
    std::fprintf(stderr, "valet tsan shim: %s not found after the executable: %s\n", mangled,
                 dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// The address of Notification::notified_yet_ (private): the object is a Mutex then the flag.
void* NotifiedFlag(const absl::Notification* n) {
  static_assert(sizeof(absl::Notification) == sizeof(absl::Mutex) + sizeof(std::atomic<bool>) ||
                    sizeof(absl::Notification) == 2 * sizeof(absl::Mutex),
                "absl::Notification is no longer {Mutex, atomic<bool>}: update NotifiedFlag");
  return const_cast<char*>(reinterpret_cast<const char*>(n) + sizeof(absl::Mutex));
}

// The mutex whose operation this thread is inside (Lock, Unlock, Await, ...), for Condition::Eval.
thread_local const absl::Mutex* tls_mutex = nullptr;

// Marks the thread as inside an operation on `mu` for its scope (operations nest: Notification's
// call Mutex's).
class InsideOperation {
 public:
  explicit InsideOperation(const absl::Mutex* mu) : outer_(tls_mutex) { tls_mutex = mu; }
  InsideOperation(const InsideOperation&) = delete;
  InsideOperation& operator=(const InsideOperation&) = delete;
  ~InsideOperation() { tls_mutex = outer_; }

 private:
  const absl::Mutex* outer_;
};

}  // namespace

// `real` is looked up once per function (a thread-safe local static).
#define VALET_REAL(signature, mangled) static const auto real = Real<signature>(mangled)

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  VALET_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  InsideOperation inside(this);
  real(this);
  __tsan_acquire(this);
}

void Mutex::Unlock() {
  VALET_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  InsideOperation inside(this);
  __tsan_release(this);
  real(this);
}

bool Mutex::TryLock() {
  VALET_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  InsideOperation inside(this);
  bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::ReaderLock() {
  VALET_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  InsideOperation inside(this);
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderUnlock() {
  VALET_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  InsideOperation inside(this);
  __tsan_release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  VALET_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  InsideOperation inside(this);
  bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

// LockWhen* hold the mutex on return whatever they return.
void Mutex::LockWhen(const Condition& cond) {
  VALET_REAL(void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  InsideOperation inside(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Duration),
             "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  InsideOperation inside(this);
  bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Time),
             "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  InsideOperation inside(this);
  bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  VALET_REAL(void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  InsideOperation inside(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Duration),
             "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  InsideOperation inside(this);
  bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Time),
             "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  InsideOperation inside(this);
  bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

// Await* give the mutex up while waiting and hold it again on return.
void Mutex::Await(const Condition& cond) {
  VALET_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  InsideOperation inside(this);
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Duration),
             "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  InsideOperation inside(this);
  __tsan_release(this);
  bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  VALET_REAL(bool (*)(Mutex*, const Condition&, Time),
             "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  InsideOperation inside(this);
  __tsan_release(this);
  bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

// CondVar::Wait* give `mu` up while waiting; the ordering travels through the mutex.
void CondVar::Wait(Mutex* mu) {
  VALET_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  InsideOperation inside(mu);
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  VALET_REAL(bool (*)(CondVar*, Mutex*, Duration),
             "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  InsideOperation inside(mu);
  __tsan_release(mu);
  bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  VALET_REAL(bool (*)(CondVar*, Mutex*, Time),
             "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  InsideOperation inside(mu);
  __tsan_release(mu);
  bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

// Abseil evaluates a Condition with the mutex held, inside Lock*/Await*/Unlock (also on the thread
// that unlocks, for another thread's waiting condition): after Unlock's release above and before
// the lock really changes hands. The reads a condition makes are therefore published to the next
// holder of the mutex here (the library calls Eval through the dynamic linker).
bool Condition::Eval() const {
  VALET_REAL(bool (*)(const Condition*), "_ZNK4absl7debian39Condition4EvalEv");
  const Mutex* mu = tls_mutex;
  if (mu == nullptr) return real(this);
  __tsan_acquire(const_cast<Mutex*>(mu));
  bool holds = real(this);
  __tsan_release(const_cast<Mutex*>(mu));
  return holds;
}

void Notification::Notify() {
  VALET_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  VALET_REAL(void (*)(const Notification*),
             "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  VALET_REAL(bool (*)(const Notification*, Duration),
             "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool notified = real(this, timeout);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  VALET_REAL(bool (*)(const Notification*, Time),
             "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool notified = real(this, deadline);
  if (notified) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
