// One request on a fan-out route: reads the request body whole (bounded), sends it to every leg
// at once (each an UpstreamCall in buffer mode, through the leg's app's balancer and pools),
// gives each leg its own deadline, and once every leg has ended (or a required one has failed)
// answers with the merged JSON (merger.h).
//
// Owns itself like a session: every pending operation (the body read, each leg, each deadline)
// holds a shared_ptr to it. It holds the client connection (Downstream::Hold) and pins the
// snapshot until it has answered; the session cancels it if the client goes away (Cancel).
// Worker thread only.
#ifndef VALET_DATAPLANE_FANOUT_FANOUT_CALL_H_
#define VALET_DATAPLANE_FANOUT_FANOUT_CALL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/error.hpp"
#include "dataplane/fanout/fanout_route.h"
#include "dataplane/fanout/merger.h"
#include "dataplane/fanout/route_table.h"
#include "dataplane/upstream/upstream_call.h"

namespace valet {

class Downstream;
class Worker;
struct Exchange;

class FanoutCall : public std::enable_shared_from_this<FanoutCall> {
 public:
  // Answers `exchange` (which matched `route` with `params`) through `downstream`. The call is
  // kept in exchange.fanout, so that the session can cancel it.
  static void Start(const FanoutRoute& route, const PathParams& params, Exchange& exchange,
                    Downstream& downstream);

  // The client went away: every leg stops; the exchange is aborted once they have.
  void Cancel();

  struct Key {
    explicit Key() = default;
  };
  FanoutCall(Key, const FanoutRoute& route, Exchange& exchange, Downstream& downstream);
  FanoutCall(const FanoutCall&) = delete;
  FanoutCall& operator=(const FanoutCall&) = delete;

 private:
  struct Leg {
    const FanoutLeg* spec = nullptr;
    std::string path;  // Rendered from the template.
    std::string query;
    std::shared_ptr<UpstreamCall> call;
    std::optional<boost::asio::steady_timer> deadline;
    bool ended = false;
    LegReport report;
  };

  void ReadBody();
  void OnBodyRead(boost::beast::error_code ec);
  void StartLegs();
  void OnLegDone(size_t index, UpstreamCall::Result result);
  void OnLegDeadline(size_t index, boost::beast::error_code ec);
  // Records how leg `index` ended; answers when the answer is decided.
  void EndLeg(size_t index, LegOutcome outcome, std::string detail, LegJson value = {});
  void Answer();
  void StopLegs();
  void FailBeforeLegs(const GatewayError& error);

  const FanoutRoute& route_;
  Exchange& exchange_;
  Downstream& downstream_;
  Worker& worker_;
  std::shared_ptr<void> hold_;            // The client connection, until answered.
  std::shared_ptr<const void> snapshot_;  // Keeps `route_` and the legs' apps alive.
  std::string body_;
  std::vector<Leg> legs_;
  size_t pending_ = 0;
  bool answered_ = false;
  bool cancelled_ = false;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_FANOUT_FANOUT_CALL_H_
