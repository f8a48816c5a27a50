// A running valet-controlplane (the real binary) for end-to-end tests.
#ifndef VALET_TESTS_SUPPORT_CONTROL_PLANE_PROCESS_H_
#define VALET_TESTS_SUPPORT_CONTROL_PLANE_PROCESS_H_

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/binaries.h"
#include "tests/support/process.h"

namespace valet::testing {

struct RunningControlPlane {
  std::unique_ptr<Process> process;
  std::string grpc;  // HOST:PORT of the gRPC listener.
  std::string http;  // HOST:PORT of the REST admin.
};

// Starts valet-controlplane on `conf_dir`, gRPC on 127.0.0.1:`grpc_port` (0 picks one; a restart
// passes the old one) and REST on a port the kernel picks, and waits (20 s at most) for the ports
// it writes to `port_file`. `extra_args` are appended (e.g. --tokens-file). The error carries the
// process's log.
inline absl::StatusOr<RunningControlPlane> StartControlPlaneProcess(
    const std::string& conf_dir, const std::string& port_file, int grpc_port = 0,
    const std::vector<std::string>& extra_args = {}) {
  absl::StatusOr<std::string> bin = ControlplaneBinary();
  if (!bin.ok()) return bin.status();
  ::unlink(port_file.c_str());  // A file of an earlier run must not be taken for this one's.
  std::vector<std::string> args = {
      "--conf-dir",    conf_dir,      "--grpc-listen", absl::StrCat("127.0.0.1:", grpc_port),
      "--http-listen", "127.0.0.1:0", "--port-file",   port_file};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(*bin, args);
  if (!process.ok()) return process.status();
  auto ports = WaitForPortFile(port_file, absl::Seconds(20));
  if (!ports.ok()) {
    return absl::Status(ports.status().code(),
                        absl::StrCat(ports.status().message(), "\n", (*process)->Log()));
  }
  return RunningControlPlane{std::move(*process), (*ports)["grpc"], (*ports)["http"]};
}

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_CONTROL_PLANE_PROCESS_H_
