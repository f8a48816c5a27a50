// Waiting until every attached data plane has answered a config version: ACKed it (or a later one)
// or NACKed it. The one mechanism behind `apply --wait` (also delete/reload --wait) and
// bench/apply_latency: the control plane's WaitForVersion call, which blocks server-side until
// every connected data plane has answered or the timeout passes (no polling).
#ifndef VALET_VALETCTL_ACK_WAIT_H_
#define VALET_VALETCTL_ACK_WAIT_H_

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet::ctl {

class CommandEnv;

// How much longer than the wait itself the call's deadline is, so that a timeout comes back as an
// answer (complete = false, with the pending data planes) rather than DEADLINE_EXCEEDED.
inline constexpr absl::Duration kWaitDeadlineSlack = absl::Seconds(5);

// Calls WaitForVersion(version, timeout). Thread-safe as the stub is.
grpc::Status WaitForAcks(v1::ControlService::StubInterface& stub, uint64_t version,
                         absl::Duration timeout, v1::WaitForVersionResponse* response);

// True when every data plane answered and none NACKed.
bool AllAcked(const v1::WaitForVersionResponse& response);

// For commands: waits for `version` with --timeout, prints the outcome (the summary, or one
// "error: ..." line per data plane that NACKed or stayed silent) and returns the exit code.
// With -o json it prints the WaitForVersionResponse. A failed wait says that the change landed
// (exit kExitRefused, as a data plane that did not answer).
int WaitAndReport(CommandEnv& env, uint64_t version, std::string_view what);

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_ACK_WAIT_H_
