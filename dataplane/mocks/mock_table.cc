#include "dataplane/mocks/mock_table.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/string_view.h"

namespace valet {

absl::StatusOr<std::shared_ptr<const MockTable>> MockTable::Compile(const v1::AppConfig& app) {
  auto table = std::make_shared<MockTable>();
  table->mocks_.reserve(app.mocks_size());
  for (int i = 0; i < app.mocks_size(); ++i) {
    const v1::Mock& mock = app.mocks(i);
    absl::StatusOr<PathPattern> path = PathPattern::Compile(mock.path());
    if (!path.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mocks[", i, "].path: ", path.status().message()));
    }
    CompiledMock compiled;
    compiled.method = mock.method() == "*" ? "" : mock.method();
    compiled.path = std::move(*path);
    compiled.status = mock.status() == 0 ? 200 : mock.status();
    bool has_content_type = false;
    for (const v1::MockHeader& header : mock.headers()) {
      has_content_type |= absl::EqualsIgnoreCase(header.name(), "content-type");
      compiled.headers.emplace_back(header.name(), header.value());
    }
    if (!mock.json().empty()) {
      compiled.body = mock.json();
      if (!has_content_type) compiled.headers.emplace_back("Content-Type", "application/json");
    } else if (!mock.text().empty()) {
      compiled.body = mock.text();
      if (!has_content_type) {
        compiled.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
      }
    }
    compiled.delay = std::chrono::milliseconds(mock.delay_ms());
    table->mocks_.push_back(std::move(compiled));
  }
  return std::shared_ptr<const MockTable>(std::move(table));
}

const CompiledMock* MockTable::Find(std::string_view method, std::string_view path) const {
  for (const CompiledMock& mock : mocks_) {
    bool method_matches =
        mock.method.empty() || mock.method == method || (method == "HEAD" && mock.method == "GET");
    if (method_matches && mock.path.Match(path)) return &mock;
  }
  return nullptr;
}

}  // namespace valet
