#include "common/flag_args.h"

#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"

namespace valet {
namespace {

// "--conf-dir=a-b" -> "--conf_dir=a-b": only the name part changes.
std::string NormalizeOne(const std::string& arg) {
  if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) return arg;
  std::string out = arg;
  size_t end = out.find('=');
  if (end == std::string::npos) end = out.size();
  for (size_t i = 2; i < end; ++i) {
    if (out[i] == '-') out[i] = '_';
  }
  return out;
}

absl::Status ExpandFlagFile(const std::string& path, int depth, std::vector<std::string>* out);

absl::Status Append(const std::string& raw, int depth, std::vector<std::string>* out) {
  std::string arg = NormalizeOne(raw);
  if (arg.rfind("--flagfile=", 0) == 0) {
    return ExpandFlagFile(arg.substr(sizeof("--flagfile=") - 1), depth + 1, out);
  }
  out->push_back(std::move(arg));
  return absl::OkStatus();
}

absl::Status ExpandFlagFile(const std::string& path, int depth, std::vector<std::string>* out) {
  if (depth > 8)
    return absl::InvalidArgumentError(absl::StrCat(path, ": flag files nest too deep"));
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  size_t pos = 0;
  while (pos <= text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    absl::Status s = Append(line.substr(start), depth, out);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> NormalizeFlagArgs(int argc, char** argv) {
  std::vector<std::string> out;
  if (argc > 0) out.emplace_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) out.emplace_back(argv[i]);
      break;
    }
    // "--flagfile F" (space-separated) as well as "--flagfile=F".
    if ((arg == "--flagfile" || arg == "-flagfile") && i + 1 < argc) {
      arg = absl::StrCat("--flagfile=", argv[++i]);
    }
    absl::Status s = Append(arg, 0, &out);
    if (!s.ok()) return s;
  }
  return out;
}

void ParseFlags(int argc, char** argv) {
  absl::StatusOr<std::vector<std::string>> args = NormalizeFlagArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "%s: %s\n", argc > 0 ? argv[0] : "valet",
                 std::string(args.status().message()).c_str());
    std::exit(2);
  }
  // Abseil keeps pointers into argv for positional arguments: the holder lives for the process.
  static ArgvHolder* holder = new ArgvHolder(std::move(*args));
  absl::ParseCommandLine(holder->argc(), holder->argv());
}

}  // namespace valet
