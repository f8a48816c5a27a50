// The link from valetctl to the control plane: one gRPC channel and ControlService stub, a deadline
// on every call, and the mapping of a failed call to an exit code and error lines.
//
// Not thread-safe beyond what the gRPC stub itself allows; lives for one command.
#ifndef VALET_VALETCTL_CONTROL_CONNECTION_H_
#define VALET_VALETCTL_CONTROL_CONNECTION_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "valet/v1/control.grpc.pb.h"
#include "valetctl/cli.h"

namespace valet::ctl {

// The validation errors a refused change carries in its status details (common/
// validation_errors.h); empty when it carries none.
std::vector<v1::ValidationError> StatusValidationErrors(const grpc::Status& status);

// The error lines valetctl prints for a failed call, each without the "error: " prefix: one per
// validation error ("FILE: PATH: reason") when the status carries a list, else the message's
// lines (the code's name when it has none).
std::vector<std::string> StatusErrorLines(const grpc::Status& status);

// The exit code for a failed call: kExitUnreachable for UNAVAILABLE, and for DEADLINE_EXCEEDED
// when the channel never became ready (the deadline ran out while connecting); kExitRefused else.
int ExitCodeForStatus(const grpc::Status& status, bool channel_ready);

// The exit code for a change (apply, delete, reload) that failed after it was sent: kExitRefused
// when the control plane refused it (such an answer means nothing changed), kExitOutcomeUnknown
// when no answer says what became of it (a deadline, a lost connection, an internal error).
int ExitCodeForChange(const grpc::Status& status);

// How valetctl proves who it is: TLS (the PEM files read, nullopt for plain text) and the token
// every call carries as `authorization: Bearer` (empty: none). Plain data: making it starts no
// gRPC thread.
struct ConnectionSecurity {
  std::optional<grpc::SslCredentialsOptions> tls;
  std::string token;
};

// From --token-file (else `env_token`, $VALET_TOKEN) and --tls-ca/--tls-cert/--tls-key. Errors
// name the flag and the file, never the token.
absl::StatusOr<ConnectionSecurity> ResolveSecurity(const GlobalOptions& global,
                                                   std::string_view env_token);

// The one-line hint after an UNAUTHENTICATED answer (empty for other answers).
std::string AuthHint(const grpc::Status& status);

class ControlConnection {
 public:
  // The channel takes messages up to kMaxGrpcMessageBytes both ways (common/message_limits.h), as
  // the control plane does: a list of every app can be larger than gRPC's 4 MiB default. Every
  // call carries `security`'s token.
  ControlConnection(std::string server, absl::Duration timeout,
                    const ConnectionSecurity& security = {});

  v1::ControlService::Stub& stub() { return *stub_; }
  grpc::Channel& channel() { return *channel_; }
  const std::string& server() const { return server_; }
  absl::Duration timeout() const { return timeout_; }

  // A context whose deadline is now + timeout (+ extra).
  std::unique_ptr<grpc::ClientContext> NewContext(
      absl::Duration extra = absl::ZeroDuration()) const;

  // Connects the channel, waiting up to the timeout (or `deadline`). Fails fast when a connection
  // attempt fails (e.g. refused). On failure returns false and sets `reason` to a phrase for the
  // error line.
  bool Connect(std::string* reason);
  bool Connect(std::string* reason, std::chrono::system_clock::time_point deadline);

  // For a change (apply, delete, reload), before sending it: connects by `deadline` (the call's),
  // so that a failure can be told apart. Without a connection the change was never sent: prints
  // "cannot reach" to `err` and returns false (exit kExitUnreachable). Once connected, a call that
  // fails without the control plane's refusal may have landed: ReportError with `mutation` says
  // so. (A connection lost between the two makes the outcome unknown too: the safe side.)
  bool ConnectForChange(std::chrono::system_clock::time_point deadline, std::ostream& err);

  // Prints the error lines of a failed call to `err` ("error: ..." each) and returns its exit code.
  // `what` names the call, e.g. "apply". `rewrite`, when set, changes each validation error of a
  // refusal before it is printed (e.g. to name the local file an "apps[2]" came from). A `mutation`
  // (sent after ConnectForChange) that failed without a refusal says its outcome is unknown and how
  // to check it (the control plane may have applied it) and returns kExitOutcomeUnknown.
  int ReportError(const grpc::Status& status, std::string_view what, std::ostream& err,
                  const std::function<void(v1::ValidationError*)>& rewrite = nullptr,
                  bool mutation = false);

 private:
  std::string server_;
  absl::Duration timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ControlService::Stub> stub_;
};

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_CONTROL_CONNECTION_H_
