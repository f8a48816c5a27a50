// On Debian 12's Abseil, absl::string_view is its own type, not std::string_view. Valet uses
// std::string_view everywhere and converts here, at the Abseil boundary only.
#ifndef VALET_COMMON_STRING_VIEW_H_
#define VALET_COMMON_STRING_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace valet {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view AsStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace valet

#endif  // VALET_COMMON_STRING_VIEW_H_
