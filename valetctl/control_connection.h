// The link from valetctl to the control plane: one gRPC channel and ControlService stub, a deadline
// on every call, and the mapping of a failed call to an exit code and error lines.
//
// Not thread-safe beyond what the gRPC stub itself allows; lives for one command.
#ifndef VALET_VALETCTL_CONTROL_CONNECTION_H_
#define VALET_VALETCTL_CONTROL_CONNECTION_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "valet/v1/control.grpc.pb.h"

namespace valet::ctl {

// The error lines valetctl prints for a failed call, each without the "error: " prefix.
// A refused change carries one error per line in its message; each becomes a line.
std::vector<std::string> StatusErrorLines(const grpc::Status& status);

// The exit code for a failed call: kExitUnreachable for UNAVAILABLE, and for DEADLINE_EXCEEDED
// when the channel never became ready (the deadline ran out while connecting); kExitRefused else.
int ExitCodeForStatus(const grpc::Status& status, bool channel_ready);

class ControlConnection {
 public:
  ControlConnection(std::string server, absl::Duration timeout);

  v1::ControlService::Stub& stub() { return *stub_; }
  grpc::Channel& channel() { return *channel_; }
  const std::string& server() const { return server_; }
  absl::Duration timeout() const { return timeout_; }

  // A context whose deadline is now + timeout (+ extra).
  std::unique_ptr<grpc::ClientContext> NewContext(
      absl::Duration extra = absl::ZeroDuration()) const;

  // Connects the channel, waiting up to the timeout. Fails fast when a connection attempt fails
  // (e.g. refused). On failure returns false and sets `reason` to a phrase for the error line.
  bool Connect(std::string* reason);

  // Prints the error lines of a failed call to `err` ("error: ..." each) and returns its exit code.
  // `what` names the call, e.g. "apply". `rewrite`, when set, maps each error line of a refusal
  // (e.g. to name the local file an "apps[2]" came from). A `mutation` that timed out says its
  // outcome is unknown (the control plane may have applied it after the deadline).
  int ReportError(const grpc::Status& status, std::string_view what, std::ostream& err,
                  const std::function<std::string(const std::string&)>& rewrite = nullptr,
                  bool mutation = false);

 private:
  std::string server_;
  absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ControlService::Stub> stub_;
};

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_CONTROL_CONNECTION_H_
