// A fan-out backend's path template, compiled: renders the path and query a leg sends from the
// route's parameters and the request's query (syntax: common/route_syntax.h, docs/fanout.md).
//
// A value is put in as it came (percent-encoded as the client sent it), except that characters
// that would change the target's structure are percent-encoded: in the path "/", "?", "#" and a
// whole "." or ".." (a value cannot climb out of the template's path); in the query "&", "=",
// "+" and "#" as well (a value cannot add parameters).
#ifndef VALET_DATAPLANE_FANOUT_PATH_TEMPLATE_H_
#define VALET_DATAPLANE_FANOUT_PATH_TEMPLATE_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/route_syntax.h"
#include "dataplane/fanout/route_table.h"

namespace valet {

// The value of query parameter `name` in `query` (no "?"), as sent; empty if absent. A name
// that appears more than once gives its first value.
std::string_view QueryParam(std::string_view query, std::string_view name);

class PathTemplate {
 public:
  // An empty template: the request's own path and query.
  PathTemplate() = default;
  explicit PathTemplate(std::vector<TemplatePiece> pieces) : pieces_(std::move(pieces)) {}

  bool empty() const { return pieces_.empty(); }

  // Fills `path` ("/...") and `query` (without "?"; empty: none) for a request whose path
  // (after the app segment) is `request_path`, with query `request_query`.
  void Render(const PathParams& params, std::string_view request_path,
              std::string_view request_query, std::string* path, std::string* query) const;

 private:
  std::vector<TemplatePiece> pieces_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_PATH_TEMPLATE_H_
