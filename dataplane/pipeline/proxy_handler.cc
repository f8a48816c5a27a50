#include "dataplane/pipeline/proxy_handler.h"

#include <string>

#include "dataplane/http_fields.h"
#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "dataplane/upstream/upstream_call.h"
#include "dataplane/worker.h"

namespace valet {
namespace http = boost::beast::http;

void ProxyHandler::Handle(Exchange& exchange, Downstream& downstream) const {
  auto& req = exchange.request.get();
  std::optional<std::string> upgrade = RequestedUpgrade(req, req.version());
  // Strip first: a client must not be able to name the gateway's own fields in Connection.
  StripHopByHop(req);
  SetForwardedFields(req, downstream.ClientIp(), downstream.stream().is_tls() ? "https" : "http");
  req.version(11);
  if (auto length = exchange.request.content_length()) {
    req.content_length(*length);
  } else if (exchange.request.chunked()) {
    req.chunked(true);
  }
  if (upgrade) {
    // Hop-by-hop, but a protocol switch needs them on the next hop too.
    req.set(http::field::upgrade, *upgrade);
    req.set(http::field::connection, "upgrade");
  }
  exchange.upstream = UpstreamCall::Stream(exchange, downstream);
  exchange.upstream->Start();
}

}  // namespace valet
