// The handler of a plain app: relays the request to one of the app's backends and streams the
// answer back (an UpstreamCall in stream mode). Upgrade requests (WebSocket) are passed on, and a
// backend's 101 turns the connection into a tunnel.
#ifndef VALET_DATAPLANE_PIPELINE_PROXY_HANDLER_H_
#define VALET_DATAPLANE_PIPELINE_PROXY_HANDLER_H_

#include "dataplane/pipeline/handler.h"

namespace valet {

class ProxyHandler : public Handler {
 public:
  std::string_view name() const override { return "proxy"; }
  void Handle(Exchange& exchange, Downstream& downstream) const override;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_PIPELINE_PROXY_HANDLER_H_
