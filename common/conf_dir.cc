#include "common/conf_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/app_config_json.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "common/validation_errors.h"

namespace valet {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(AsAbsl(what), " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("fsync", path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SourcedApp>> ParseFiles(const std::vector<std::string>& files,
                                                   RedactedKeys redacted) {
  std::vector<SourcedApp> apps;
  std::vector<v1::ValidationError> errors;
  auto add = [&](const absl::Status& status) {
    for (v1::ValidationError& e : ValidationErrorsOf(status)) errors.push_back(std::move(e));
  };
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) {
      // ReadFile's message starts with the file: keep the reason only.
      std::string_view reason = AsStd(text.status().message());
      if (reason.substr(0, file.size() + 2) == file + ": ") reason.remove_prefix(file.size() + 2);
      errors.push_back(MakeValidationError(file, "", reason));
      continue;
    }
    absl::StatusOr<v1::AppConfig> app = ParseAppConfigJson(*text, file);
    if (!app.ok()) {
      add(app.status());
      continue;
    }
    apps.push_back({std::move(*app), file});
  }
  add(ValidateAppSet(apps, redacted));
  if (!errors.empty()) return ValidationFailed(errors);
  return apps;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(path, ": read failed"));
  return ss.str();
}

absl::StatusOr<std::vector<SourcedApp>> LoadConfDir(const std::string& dir, RedactedKeys redacted) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  std::vector<std::string> files;
  // increment(ec) rather than a range-for: operator++ throws when listing fails midway.
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const fs::path& p = entry.path();
    std::string fname = p.filename().string();
    // Temp files of an interrupted atomic write start with '.'; they are never configs.
    if (p.extension() != ".json" || fname.front() == '.') continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    files.push_back(p.string());
  }
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  std::sort(files.begin(), files.end());
  return ParseFiles(files, redacted);
}

absl::StatusOr<std::vector<SourcedApp>> LoadAppsFromPath(const std::string& path,
                                                         RedactedKeys redacted) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return LoadConfDir(path, redacted);
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  return ParseFiles({path}, redacted);
}

absl::Status WriteSyncedFile(const std::string& path, std::string_view contents,
                             const std::string& mode_of, FileAccess access) {
  // The mode (and, for root, the owner) of the file being replaced; a new file is private: app
  // files may hold auth keys.
  struct stat old {};
  bool replace = !mode_of.empty() && ::stat(mode_of.c_str(), &old) == 0 && S_ISREG(old.st_mode);
  mode_t mode = replace ? (old.st_mode & 07777) : 0600;
  if (access == FileAccess::kOwnerOnly) mode &= ~static_cast<mode_t>(077);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create", path);
  auto fail = [&](std::string_view what) {
    absl::Status s = ErrnoError(what, path);
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  };
  // fchmod: the mode given to open() is filtered by the umask.
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  if (replace && ::geteuid() == 0 && ::fchown(fd, old.st_uid, old.st_gid) != 0) {
    return fail("chown");
  }
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    absl::Status s = ErrnoError("close", path);
    ::unlink(path.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  return FsyncPath(dir.empty() ? std::string(".") : dir, O_RDONLY | O_DIRECTORY);
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents,
                                 FileAccess access) {
  fs::path target(path);
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  // Unique per process and call, so two writers of the same file never share a temp file.
  static std::atomic<uint64_t> counter{0};
  std::string tmp = (dir / absl::StrCat(".", target.filename().string(), ".tmp.", ::getpid(), ".",
                                        counter.fetch_add(1)))
                        .string();
  RETURN_IF_ERROR(WriteSyncedFile(tmp, contents, path, access));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoError("rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDir(dir.string());
}

absl::Status WriteAppFile(const std::string& dir, const v1::AppConfig& app) {
  // The name becomes a file name: "../x" must not write outside the conf dir.
  if (!IsValidAppName(app.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write app \"", app.name(), "\": not a valid app name"));
  }
  return WriteFileAtomically((fs::path(dir) / (app.name() + ".json")).string(),
                             AppConfigToJson(app));
}

absl::Status RemoveAppFile(const std::string& dir, const std::string& name) {
  if (!IsValidAppName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot remove app \"", name, "\": not a valid app name"));
  }
  std::string path = (fs::path(dir) / (name + ".json")).string();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove", path);
  return FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace valet
