// Input text quoted inside an error message. Errors of config files reach REST bodies, valetctl
// output and both planes' logs, so what they quote is bounded (one short line whatever the input
// holds) and escaped (no control bytes, no line breaks). Secret fields (authKey) are never quoted
// at all: their errors name the field only.
#ifndef VALET_COMMON_ERROR_TEXT_H_
#define VALET_COMMON_ERROR_TEXT_H_

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace valet {

// Enough for every name and value a valid config holds (names are at most 64 bytes).
inline constexpr size_t kMaxQuotedBytes = 100;

// `s` as a double-quoted string: `"`, `\` and control bytes escaped JSON-style; cut after
// `max_bytes` input bytes (at a UTF-8 character boundary) and marked `"...` when longer.
inline std::string QuoteForError(std::string_view s, size_t max_bytes = kMaxQuotedBytes) {
  size_t n = s.size();
  if (n > max_bytes) {
    n = max_bytes;
    // Do not cut a multi-byte character in two: back up over continuation bytes (10xxxxxx).
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = "\"";
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (n < s.size()) out += "...";
  return out;
}

}  // namespace valet

#endif  // VALET_COMMON_ERROR_TEXT_H_
