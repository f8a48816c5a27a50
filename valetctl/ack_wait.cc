#include "valetctl/ack_wait.h"

#include <chrono>

#include "absl/strings/str_join.h"
#include "valetctl/command_env.h"
#include "valetctl/output.h"

namespace valet::ctl {

grpc::Status WaitForAcks(v1::ControlService::StubInterface& stub, uint64_t version,
                         absl::Duration timeout, v1::WaitForVersionResponse* response) {
  v1::WaitForVersionRequest request;
  request.set_version(version);
  int64_t timeout_ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  request.set_timeout_ms(static_cast<uint32_t>(std::min<int64_t>(timeout_ms, 600000)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms) +
                       std::chrono::milliseconds(absl::ToInt64Milliseconds(kWaitDeadlineSlack)));
  return stub.WaitForVersion(&context, request, response);
}

bool AllAcked(const v1::WaitForVersionResponse& response) {
  return response.complete() && response.nacked().empty() && response.pending().empty();
}

int WaitAndReport(CommandEnv& env, uint64_t version, std::string_view what) {
  ControlConnection& conn = env.connection();
  v1::WaitForVersionResponse response;
  grpc::Status status = WaitForAcks(conn.stub(), version, conn.timeout(), &response);
  if (!status.ok()) {
    // The change itself has landed (it has a version); only the wait failed. Not exit 3, which
    // says that nothing was sent (a script would send the change again).
    env.err() << "error: " << what << " --wait: the change landed as version " << version
              << ", but waiting for the data planes failed ("
              << absl::StrJoin(StatusErrorLines(status), "; ")
              << "); check `valetctl dataplanes`\n";
    return kExitRefused;
  }
  bool ok = AllAcked(response);
  if (env.global().output == OutputFormat::kJson) {
    env.out() << ToJson(response);
  } else if (ok) {
    env.out() << WaitSummary(response) << "\n";
  }
  if (!ok) {
    for (const std::string& line : WaitProblems(response)) env.err() << "error: " << line << "\n";
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace valet::ctl
