#include "dataplane/mocks/mock_handler.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/steady_timer.hpp"
#include "common/string_view.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/worker.h"

namespace valet {
namespace http = boost::beast::http;

namespace {

GatewayError NoMock(std::string_view method, std::string_view path) {
  return GatewayError{
      404, "no_mock",
      absl::StrCat("no mock for ", AsAbsl(method), " ", path.empty() ? "/" : AsAbsl(path))};
}

http::response<http::string_body> MakeAnswer(const CompiledMock& mock) {
  http::response<http::string_body> answer(static_cast<http::status>(mock.status), 11);
  for (const auto& [name, value] : mock.headers) answer.insert(name, value);
  answer.set(kMockHeader, "true");
  answer.body() = mock.body;
  return answer;
}

}  // namespace

bool MockHandler::WantsMock(const Exchange& exchange) const {
  if (mock_mode_) return true;
  if (!allow_header_) return false;
  const auto& req = exchange.request.get();
  auto it = req.find(kMockHeader);
  if (it == req.end()) return false;
  std::string_view value = it->value();
  return value == "1" || absl::EqualsIgnoreCase(AsAbsl(value), "true");
}

void MockHandler::Handle(Exchange& exchange, Downstream& downstream) const {
  if (!WantsMock(exchange)) return next_->Handle(exchange, downstream);
  std::string_view method = exchange.request.get().method_string();
  const CompiledMock* mock = table_->Find(method, exchange.target.rest);
  if (mock == nullptr) return downstream.Fail(NoMock(method, exchange.target.rest));
  if (mock->delay.count() == 0) return downstream.Respond(MakeAnswer(*mock));

  // The snapshot (and so the mock) stays pinned by the exchange, which the hold keeps alive.
  auto timer = std::make_shared<boost::asio::steady_timer>(downstream.worker().io(), mock->delay);
  timer->async_wait(
      [timer, hold = downstream.Hold(), &downstream, mock](const boost::system::error_code&) {
        if (downstream.closed()) return downstream.Abort(0);
        downstream.Respond(MakeAnswer(*mock));
      });
}

}  // namespace valet
