// A running valet-dataplane (the real binary) attached to a control plane, for end-to-end tests.
#ifndef VALET_TESTS_SUPPORT_DATAPLANE_PROCESS_H_
#define VALET_TESTS_SUPPORT_DATAPLANE_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/support/binaries.h"
#include "tests/support/process.h"

namespace valet::testing {

struct RunningDataplane {
  std::unique_ptr<Process> process;
  std::string listen;  // HOST:PORT of the proxy listener.
  std::string admin;   // HOST:PORT of the admin listener.
};

// Starts valet-dataplane as `id`, attached to the control plane at `control_plane` (HOST:PORT),
// one worker, ports picked by the kernel, re-attaching within 300 ms, and waits (20 s at most)
// for the ports it writes to `port_file`. `extra_args` are appended (e.g. --token-file). The
// error carries the process's log.
inline absl::StatusOr<RunningDataplane> StartAttachedDataplaneProcess(
    const std::string& control_plane, const std::string& id, const std::string& port_file,
    const std::vector<std::string>& extra_args = {}) {
  absl::StatusOr<std::string> bin = DataplaneBinary();
  if (!bin.ok()) return bin.status();
  std::vector<std::string> args = {"--control-plane",
                                   control_plane,
                                   "--id",
                                   id,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--admin-listen",
                                   "127.0.0.1:0",
                                   "--port-file",
                                   port_file,
                                   "--workers",
                                   "1",
                                   "--control-backoff-max-ms",
                                   "300"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(*bin, args);
  if (!process.ok()) return process.status();
  auto ports = WaitForPortFile(port_file, absl::Seconds(20));
  if (!ports.ok()) {
    return absl::Status(ports.status().code(),
                        absl::StrCat(ports.status().message(), "\n", (*process)->Log()));
  }
  return RunningDataplane{std::move(*process), (*ports)["listen"], (*ports)["admin"]};
}

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_DATAPLANE_PROCESS_H_
