#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

extern char** environ;

namespace valet::testing {
namespace {

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  return (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
}

absl::StatusOr<std::string> MakeTempDir(const std::string& prefix) {
  std::string templ = absl::StrCat(TempRoot(), "/", prefix, "XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", templ, ": ", std::strerror(errno)));
  }
  return templ;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Process>> Process::Start(std::string path,
                                                        std::vector<std::string> args,
                                                        std::vector<std::string> extra_env) {
  return Start(std::move(path), std::move(args),
               Options{.extra_env = std::move(extra_env), .unset_env = {}});
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(std::string path,
                                                        std::vector<std::string> args,
                                                        Options options) {
  absl::StatusOr<std::string> dir = MakeTempDir("valet-proc-");
  if (!dir.ok()) return dir.status();
  std::string stdout_path = *dir + "/stdout.log";
  std::string stderr_path = *dir + "/stderr.log";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);

  // Signals the test runner blocks or ignores must not leak into the child.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  for (auto& a : args) argv_storage.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Parent environment minus the names extra_env overrides or unset_env drops, then extra_env.
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = name_of(entry);
    bool dropped = std::any_of(options.extra_env.begin(), options.extra_env.end(),
                               [&](const std::string& x) { return name_of(x) == name; }) ||
                   std::find(options.unset_env.begin(), options.unset_env.end(), name) !=
                       options.unset_env.end();
    if (!dropped) env_storage.emplace_back(entry);
  }
  for (auto& e : options.extra_env) env_storage.push_back(std::move(e));
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::filesystem::remove_all(*dir);
    return absl::InternalError(absl::StrCat("posix_spawn ", path, ": ", std::strerror(rc)));
  }
  return std::unique_ptr<Process>(
      new Process(pid, *dir, std::move(stdout_path), std::move(stderr_path)));
}

Process::~Process() {
  if (!exit_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  // Under the tsan preset the children are ThreadSanitizer builds too: a report in one fails the
  // test that started it (and shows the report), even when the test did not look at its output.
  std::string err = Stderr();
  if (err.find("ThreadSanitizer") != std::string::npos) {
    ADD_FAILURE() << "ThreadSanitizer report in the stderr of child " << pid_ << ":\n" << err;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Process::Poll() {
  if (exit_.has_value()) return;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    if (WIFEXITED(status)) {
      exit_ = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      exit_ = -WTERMSIG(status);
    }
  } else if (r < 0 && errno == ECHILD) {
    exit_ = -1;  // Reaped elsewhere; should not happen.
  }
}

absl::Status Process::Signal(int signal) {
  Poll();
  if (exit_.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("process ", pid_, " already exited"));
  }
  if (kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill ", pid_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  if (WaitFor(
          [this] {
            Poll();
            return exit_.has_value();
          },
          timeout)) {
    return *exit_;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("process ", pid_, " still running after ", absl::FormatDuration(timeout)));
}

bool Process::Running() {
  Poll();
  return !exit_.has_value();
}

std::string Process::Stdout() const { return ReadWholeFile(stdout_path_); }

std::string Process::Stderr() const { return ReadWholeFile(stderr_path_); }

std::string Process::Log() const { return Stdout() + Stderr(); }

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (absl::Now() < deadline) {
    if (cond()) return true;
    absl::SleepFor(std::min(pause, std::max(deadline - absl::Now(), absl::ZeroDuration())));
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
  return cond();
}

absl::StatusOr<std::map<std::string, std::string>> ParsePortFile(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2 || !SplitHostPort(std::string(parts[1])).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("bad port file line: '", line, "'"));
    }
    out[std::string(parts[0])] = std::string(parts[1]);
  }
  if (out.empty()) return absl::InvalidArgumentError("empty port file");
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> WaitForPortFile(const std::string& path,
                                                                   absl::Duration timeout) {
  absl::Status last = absl::NotFoundError(absl::StrCat(path, " does not exist"));
  std::map<std::string, std::string> result;
  bool ok = WaitFor(
      [&] {
        struct stat st;
        if (stat(path.c_str(), &st) != 0) return false;
        absl::StatusOr<std::map<std::string, std::string>> parsed =
            ParsePortFile(ReadWholeFile(path));
        if (!parsed.ok()) {
          last = parsed.status();
          return false;
        }
        result = *std::move(parsed);
        return true;
      },
      timeout);
  if (!ok) {
    return absl::DeadlineExceededError(absl::StrCat("port file ", path, " not ready after ",
                                                    absl::FormatDuration(timeout), ": ",
                                                    last.message()));
  }
  return result;
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(host_port).substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad HOST:PORT '", host_port, "'"));
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

TempDir::TempDir() {
  absl::StatusOr<std::string> dir = MakeTempDir("valet-test-");
  if (!dir.ok()) {
    std::fprintf(stderr, "TempDir: %s\n", std::string(dir.status().message()).c_str());
    std::abort();
  }
  path_ = *dir;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Join(const std::string& name) const { return path_ + "/" + name; }

std::string TempDir::WriteFile(const std::string& name, const std::string& contents) const {
  std::string full = Join(name);
  std::filesystem::create_directories(std::filesystem::path(full).parent_path());
  std::ofstream out(full, std::ios::binary | std::ios::trunc);
  out << contents;
  return full;
}

absl::StatusOr<std::string> FindBinary(const char* env_var, const char* compiled_path) {
  const char* from_env = std::getenv(env_var);
  std::string path = (from_env != nullptr && *from_env != '\0') ? from_env : compiled_path;
  if (path.empty()) {
    return absl::NotFoundError(absl::StrCat(env_var, " is not set and was not compiled in"));
  }
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(env_var, ": ", path, " is not an executable file"));
  }
  return path;
}

}  // namespace valet::testing
