#include "controlplane/conf_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace valet {

absl::StatusOr<std::unique_ptr<ConfDirLock>> ConfDirLock::Acquire(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  auto not_writable = [&dir](int err) {
    return absl::PermissionDeniedError(absl::StrCat(
        "conf dir ", dir, " must be writable by valet-controlplane: ", std::strerror(err)));
  };
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return not_writable(errno);
  std::string path = (std::filesystem::path(dir) / kLockFileName).string();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return not_writable(errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::InternalError(absl::StrCat("lock ", path, ": ", std::strerror(err)));
    }
    std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
    absl::StripAsciiWhitespace(&pid);
    return absl::FailedPreconditionError(
        absl::StrCat("conf dir ", dir, " is in use by another valet-controlplane (pid ",
                     pid.empty() ? "unknown" : pid, ")"));
  }
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    ::close(fd);
    return not_writable(err);
  }
  return std::unique_ptr<ConfDirLock>(new ConfDirLock(fd));
}

ConfDirLock::~ConfDirLock() { ::close(fd_); }

}  // namespace valet
