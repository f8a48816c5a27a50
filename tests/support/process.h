// Helpers for end-to-end tests that spawn Valet's real binaries: a child process with captured
// stdout and stderr, port-file and condition waits with deadlines, a temporary directory, binary
// locations.
//
// Threading: a Process is used from one test thread. WaitFor / WaitForPortFile block the caller.
// Lifetime: a Process still running when destroyed is SIGKILLed and reaped; a TempDir removes its
// tree when destroyed. A ThreadSanitizer report in a child's stderr (tsan preset) fails the current
// test when its Process is destroyed.
#ifndef VALET_TESTS_SUPPORT_PROCESS_H_
#define VALET_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace valet::testing {

// A child process started with posix_spawn. Its stdin is /dev/null; stdout and stderr go to two
// files in a fresh temporary directory (kept after exit so the output can still be read; removed by
// the destructor).
class Process {
 public:
  struct Options {
    // "NAME=value" entries added to the environment; they replace inherited variables of the same
    // name.
    std::vector<std::string> extra_env;
    // Names of inherited variables to leave out (exact names, e.g. "VALET_SERVER"). A name that is
    // also in extra_env gets the extra_env value.
    std::vector<std::string> unset_env;
  };

  // Starts `path` with argv = {path, args...} and the parent's environment adjusted by `options`.
  static absl::StatusOr<std::unique_ptr<Process>> Start(std::string path,
                                                        std::vector<std::string> args,
                                                        Options options);
  // The same with Options{.extra_env = extra_env}.
  static absl::StatusOr<std::unique_ptr<Process>> Start(std::string path,
                                                        std::vector<std::string> args,
                                                        std::vector<std::string> extra_env = {});

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // SIGKILLs and reaps the child if it is still running, then removes the captured output.
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Sends `signal` to the child. FailedPrecondition if it has already been reaped.
  absl::Status Signal(int signal);

  // Waits up to `timeout` for the child to exit. Returns its exit code, or -N if it was killed by
  // signal N. DeadlineExceeded if it is still running at the deadline. Once reaped, repeated calls
  // return the same value immediately.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // True while the child has not exited (reaps it if it just has).
  bool Running();

  // What the child has written to stdout / stderr so far.
  std::string Stdout() const;
  std::string Stderr() const;
  // Stdout() followed by Stderr() (not interleaved in time), for failure messages and log greps.
  std::string Log() const;

 private:
  Process(pid_t pid, std::string dir, std::string stdout_path, std::string stderr_path)
      : pid_(pid),
        dir_(std::move(dir)),
        stdout_path_(std::move(stdout_path)),
        stderr_path_(std::move(stderr_path)) {}
  // Non-blocking waitpid; fills exit_ when the child has exited.
  void Poll();

  pid_t pid_;
  std::string dir_;
  std::string stdout_path_;
  std::string stderr_path_;
  std::optional<int> exit_;
};

// Polls `cond` every few milliseconds (short pauses growing to 20 ms) until it returns true or
// `timeout` passes. Returns the last value of `cond` (evaluated once more at the deadline).
bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout);

// Parses a port file: one "NAME HOST:PORT" line per listener (blank lines ignored).
// InvalidArgument on a malformed line.
absl::StatusOr<std::map<std::string, std::string>> ParsePortFile(const std::string& text);

// Waits until `path` exists and parses (it is written atomically), and returns NAME -> "HOST:PORT".
// DeadlineExceeded (with the last error) if it does not appear in time.
absl::StatusOr<std::map<std::string, std::string>> WaitForPortFile(const std::string& path,
                                                                   absl::Duration timeout);

// Splits "HOST:PORT" (the last colon). InvalidArgument if the port is not a number in 1..65535.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& host_port);

// A fresh directory under $TMPDIR (or /tmp), removed recursively when destroyed.
class TempDir {
 public:
  TempDir();  // Aborts the test program if mkdtemp fails (nothing sensible to continue with).
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(const std::string& name) const;
  // Writes `contents` to Join(name) (creating parent directories); returns the full path.
  std::string WriteFile(const std::string& name, const std::string& contents) const;

 private:
  std::string path_;
};

// Locates a Valet binary. `env_var` (e.g. "VALET_DATAPLANE_BIN") in the environment wins;
// otherwise `compiled_path` (the compile definition of the same name, see binaries.h) is used.
// NotFound if neither names an executable file.
absl::StatusOr<std::string> FindBinary(const char* env_var, const char* compiled_path);

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_PROCESS_H_
