#include "valetctl/app_name_arg.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/app_config_validation.h"
#include "common/string_view.h"

namespace valet::ctl {
namespace {

// Longer than any valid name: enough to recognise what was typed.
constexpr size_t kMaxQuoted = 80;

}  // namespace

bool CheckAppNameArg(std::string_view what, std::string_view name, std::ostream& err) {
  if (IsValidAppName(name)) return true;
  std::string quoted = absl::StrCat("\"", absl::CHexEscape(AsAbsl(name.substr(0, kMaxQuoted))),
                                    name.size() > kMaxQuoted ? "...\"" : "\"");
  if (name.size() > kMaxQuoted) absl::StrAppend(&quoted, " (", name.size(), " characters)");
  err << "error: " << what << ": " << quoted
      << " is not a valid app name, so no app has it (see \"name\" in docs/config.md)\n";
  return false;
}

}  // namespace valet::ctl
