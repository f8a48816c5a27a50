// The handler of an app that has mocks (docs/mocks.md): answers a request from the app's mock
// table when the app is in mock mode, or when the app allows the per-request header and the
// request carries it (X-Valet-Mock: 1); every other request goes on to `next` (the proxy).
//
// A mocked answer carries "X-Valet-Mock: true". An unmatched request that asked for a mock gets
// the JSON 404 "no_mock". A mock's delay runs on an asio timer of the worker: nothing blocks.
// Apps without mocks, mock mode or the header never get this handler (pipeline.cc).
#ifndef VALET_DATAPLANE_MOCKS_MOCK_HANDLER_H_
#define VALET_DATAPLANE_MOCKS_MOCK_HANDLER_H_

#include <memory>
#include <string_view>

#include "dataplane/mocks/mock_table.h"
#include "dataplane/pipeline/handler.h"

namespace valet {

inline constexpr std::string_view kMockHeader = "X-Valet-Mock";

class MockHandler : public Handler {
 public:
  MockHandler(std::shared_ptr<const MockTable> table, bool mock_mode, bool allow_header,
              std::shared_ptr<const Handler> next)
      : table_(std::move(table)),
        mock_mode_(mock_mode),
        allow_header_(allow_header),
        next_(std::move(next)) {}

  std::string_view name() const override { return "mock"; }
  void Handle(Exchange& exchange, Downstream& downstream) const override;

 private:
  // True if this request is to be answered from the table.
  bool WantsMock(const Exchange& exchange) const;

  std::shared_ptr<const MockTable> table_;
  bool mock_mode_;
  bool allow_header_;
  std::shared_ptr<const Handler> next_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_MOCKS_MOCK_HANDLER_H_
