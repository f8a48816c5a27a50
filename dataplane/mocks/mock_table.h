// An app's mocks compiled for the request path (docs/mocks.md): for a request's method and path
// (after the app segment), the first mock in config order that matches.
//
// Built once per snapshot from a validated config and immutable: shared by every worker.
#ifndef VALET_DATAPLANE_MOCKS_MOCK_TABLE_H_
#define VALET_DATAPLANE_MOCKS_MOCK_TABLE_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/path_pattern.h"
#include "valet/v1/config.pb.h"

namespace valet {

struct CompiledMock {
  std::string method;  // Empty: any method.
  PathPattern path;
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type included.
  std::string body;
  std::chrono::milliseconds delay{0};
};

class MockTable {
 public:
  // Compiles the mocks of a validated app; InvalidArgument if a pattern does not compile.
  static absl::StatusOr<std::shared_ptr<const MockTable>> Compile(const v1::AppConfig& app);

  // The first mock for `method` and `path`, or null. A HEAD request also matches GET mocks.
  const CompiledMock* Find(std::string_view method, std::string_view path) const;

  size_t size() const { return mocks_.size(); }

 private:
  std::vector<CompiledMock> mocks_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_MOCKS_MOCK_TABLE_H_
