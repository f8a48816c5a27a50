#include "common/http_framing.h"

#include <iterator>
#include <string_view>

#include "absl/strings/match.h"
#include "common/string_view.h"

namespace valet {
namespace http = boost::beast::http;

absl::Status CheckFraming(const http::fields& fields) {
  auto lengths = fields.equal_range(http::field::content_length);
  int length_count = static_cast<int>(std::distance(lengths.first, lengths.second));
  if (length_count > 1) return absl::InvalidArgumentError("more than one Content-Length");
  if (length_count == 1) {
    std::string_view v = lengths.first->value();
    if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) {
      return absl::InvalidArgumentError("invalid Content-Length");
    }
  }
  auto codings = fields.equal_range(http::field::transfer_encoding);
  int coding_count = static_cast<int>(std::distance(codings.first, codings.second));
  if (coding_count == 0) return absl::OkStatus();
  if (length_count > 0) {
    return absl::InvalidArgumentError("both Content-Length and Transfer-Encoding");
  }
  if (coding_count > 1) return absl::InvalidArgumentError("more than one Transfer-Encoding");
  std::string_view te = codings.first->value();
  while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
  while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
  // Not boost::beast::iequals: Boost 1.74's reads one byte past the end of both strings when they
  // differ in case in their last byte ("chunkeD"), and `te` is a view into the request's fields.
  if (!absl::EqualsIgnoreCase(AsAbsl(te), "chunked")) {
    return absl::InvalidArgumentError("unsupported Transfer-Encoding (only \"chunked\")");
  }
  return absl::OkStatus();
}

}  // namespace valet
