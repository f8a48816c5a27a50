// Command-line spelling for Abseil flags: Valet's flags are documented with dashes
// (--conf-dir, --admin-listen) as operators expect, while Abseil names them with underscores.
//
// NormalizeFlagArgs rewrites "--conf-dir=x" / "--conf-dir x" to "--conf_dir=..." and expands
// "--flagfile=F" (one flag per line, '#' comments) the same way, so both spellings work on the
// command line and in flag files.
#ifndef VALET_COMMON_FLAG_ARGS_H_
#define VALET_COMMON_FLAG_ARGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace valet {

// Returns the rewritten arguments (argv[0] first). An unreadable flag file is an error.
absl::StatusOr<std::vector<std::string>> NormalizeFlagArgs(int argc, char** argv);

// Holds rewritten arguments as a char** for absl::ParseCommandLine.
class ArgvHolder {
 public:
  explicit ArgvHolder(std::vector<std::string> args) : args_(std::move(args)) {
    for (std::string& a : args_) ptrs_.push_back(a.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(args_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> ptrs_;
};

// NormalizeFlagArgs, then absl::ParseCommandLine. On an unreadable flag file prints the error
// and exits 2 (a usage error); Abseil itself exits on an unknown flag.
void ParseFlags(int argc, char** argv);

}  // namespace valet

#endif  // VALET_COMMON_FLAG_ARGS_H_
