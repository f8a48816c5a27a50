// valet-controlplane: owns the app configs (the conf dir), pushes snapshots to attached data
// planes, serves the gRPC control API and the REST admin.
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/flag_args.h"
#include "common/logging.h"
#include "controlplane/server.h"

ABSL_FLAG(std::string, conf_dir, "", "Directory of app configs (NAME.json), the source of truth.");
ABSL_FLAG(std::string, grpc_listen, "0.0.0.0:9090", "HOST:PORT of the gRPC control API.");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9091", "HOST:PORT of the REST admin API.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound addresses here (lines `grpc HOST:PORT`, `http HOST:PORT`).");

// Test only, left out of the usage line: makes every config change slow to reach the disk.
ABSL_FLAG(int, debug_write_delay_ms, 0,
          "Testing only: every config change waits this long before it writes to the conf dir.");

namespace {

int Run() {
  using namespace valet;
  const std::string conf_dir = absl::GetFlag(FLAGS_conf_dir);
  if (conf_dir.empty()) {
    std::cerr << "valet-controlplane: --conf-dir is required\n";
    return 2;
  }

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ControlPlaneOptions options;
  options.conf_dir = conf_dir;
  options.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.debug_write_delay =
      absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_debug_write_delay_ms)));
  absl::StatusOr<std::unique_ptr<ControlPlaneServer>> server = ControlPlaneServer::Start(options);
  if (!server.ok()) {
    VALET_LOG(ERROR) << "cannot start:\n" << server.status().message();
    return 1;
  }
  VALET_LOG(INFO) << "gRPC control API on " << (*server)->grpc_address() << ", REST admin on "
                  << (*server)->http_address() << ", version " << (*server)->store()->version();

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status s =
        WriteFileAtomically(port_file, absl::StrCat("grpc ", (*server)->grpc_address(), "\nhttp ",
                                                    (*server)->http_address(), "\n"));
    if (!s.ok()) {
      VALET_LOG(ERROR) << "cannot write --port-file: " << s.message();
      return 1;
    }
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  VALET_LOG(INFO) << "signal " << signal << ": shutting down";
  // Streams (attach, watch) are cancelled when the grace period ends.
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  valet::SetLogProgramName("controlplane");
  absl::SetProgramUsageMessage(
      "valet-controlplane --conf-dir DIR [--grpc-listen HOST:PORT] [--http-listen HOST:PORT] "
      "[--port-file PATH]");
  valet::ParseFlags(argc, argv);  // Accepts --conf-dir as well as --conf_dir.
  return Run();
}
