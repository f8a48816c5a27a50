// ThreadSanitizer annotations for gRPC's completion queues. Linked into every executable of the
// tsan preset (VALET_TSAN=ON) and nowhere else; the companion of absl_sync_annotations.cc.
//
// Why: an operation started with grpc_call_start_batch completes on another thread, which takes
// the operation's tag off a completion queue (the callback API's reactions run that way too:
// libgrpc++'s threads take the tag with grpc_completion_queue_next and run it). The queue is
// lock-free inside Debian's uninstrumented libgrpc, so TSan does not see that starting the
// operation happens before its completion, and reports the tag's own state (and what the
// starting thread wrote before) as raced by the completing thread.
//
// How: as in absl_sync_annotations.cc, the executable defines the exported C functions and calls
// the real ones (dlsym(RTLD_NEXT)): grpc_call_start_batch releases on the tag, and
// grpc_completion_queue_next / _pluck acquire on the tag of the event they return. Ordering that
// gRPC gives through atomics elsewhere (ref-counts, the combiner) is not covered.
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

namespace {

template <typename Fn>
Fn RealGrpc(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (fn == nullptr) {
    std::fprintf(stderr, "valet tsan shim: %s not found after the executable: %s\n", name,
                 dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real = RealGrpc<decltype(&grpc_call_start_batch)>("grpc_call_start_batch");
  if (tag != nullptr) __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static const auto real =
      RealGrpc<decltype(&grpc_completion_queue_next)>("grpc_completion_queue_next");
  grpc_event event = real(cq, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) __tsan_acquire(event.tag);
  return event;
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  static const auto real =
      RealGrpc<decltype(&grpc_completion_queue_pluck)>("grpc_completion_queue_pluck");
  grpc_event event = real(cq, tag, deadline, reserved);
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) __tsan_acquire(event.tag);
  return event;
}

}  // extern "C"
