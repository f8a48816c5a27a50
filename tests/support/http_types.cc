#include "tests/support/http_types.h"

#include <algorithm>
#include <cctype>

namespace valet::testing {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) <
           std::tolower(static_cast<unsigned char>(y));
  });
}

HeaderMap ToHeaderMap(const HeaderList& fields) {
  HeaderMap out;
  for (const auto& [name, value] : fields) {
    auto [it, inserted] = out.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  return out;
}

size_t CountFields(const HeaderList& fields, std::string_view name) {
  return std::count_if(fields.begin(), fields.end(),
                       [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

std::string FirstField(const HeaderList& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return "";
}

}  // namespace valet::testing
