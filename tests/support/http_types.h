// Header containers shared by the test HTTP client and the test backend.
#ifndef VALET_TESTS_SUPPORT_HTTP_TYPES_H_
#define VALET_TESTS_SUPPORT_HTTP_TYPES_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace valet::testing {

// ASCII case-insensitive ordering, for header names.
struct CaseInsensitiveLess {
  bool operator()(std::string_view a, std::string_view b) const;
  using is_transparent = void;
};

// Header fields as they were on the wire: in order, duplicates kept, names as sent.
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// Header name -> value, case-insensitive; duplicate fields are joined with ", " in wire order.
using HeaderMap = std::map<std::string, std::string, CaseInsensitiveLess>;

// Builds the HeaderMap view of a HeaderList.
HeaderMap ToHeaderMap(const HeaderList& fields);
// Number of fields named `name` (case-insensitive) in `fields`.
size_t CountFields(const HeaderList& fields, std::string_view name);
// First value of `name` in `fields`, or "" if absent.
std::string FirstField(const HeaderList& fields, std::string_view name);

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_HTTP_TYPES_H_
