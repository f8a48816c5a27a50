// The compiled, immutable form of a config snapshot: everything the request path reads.
//
// A Snapshot is built once per config version (Compile), shared as shared_ptr<const Snapshot>,
// and never changes. Each worker holds its own reference; each request pins the one it started
// with, so a swap never tears a request. Per-app state that must outlive a swap (stats, rate-limit
// budgets) lives outside, keyed by app name, and is referenced from here.
#ifndef VALET_DATAPLANE_SNAPSHOT_H_
#define VALET_DATAPLANE_SNAPSHOT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "boost/asio/ip/address.hpp"
#include "dataplane/limits/app_limits.h"
#include "dataplane/limits/rate_limits.h"
#include "dataplane/metrics.h"
#include "valet/v1/config.pb.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace valet {

enum class BalancingPolicy { kLeastRequest, kRoundRobin };

struct EndpointSpec {
  std::string host;
  uint16_t port = 0;
  std::string path_prefix;
  uint32_t weight = 1;
  std::string key;          // "host:port": identifies the endpoint's pool and health across swaps.
  std::string host_header;  // Host sent to the backend.
  std::optional<boost::asio::ip::address> address;  // Set when `host` is an IP literal.
  // Scheme https: the TLS client context (CA of the app, or the system's); null for http.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class AppCredentials;
class Pipeline;
class MockTable;
// An endpoint as the request path uses it: its key, Host header and parsed address.
EndpointSpec MakeEndpointSpec(std::string host, uint16_t port, std::string path_prefix,
                              uint32_t weight);

class Pipeline;
class RouteTable;

// A caller of an app that presented a valid key (auth stage), or the app's anonymous consumer
// (the seed's single authKey, name ""). The rate limiter charges its budget when limit_value > 0.
struct ConsumerRoute {
  std::string name;
  uint32_t limit_value = 0;  // 0: no budget of its own.
  std::chrono::seconds limit_period{60};
};

// One app as the request path sees it. Later features add their compiled parts here (auth: keys
// and header; limits: budgets; mocks: table; fan-out: routes) and a stage or handler to
// `pipeline`.
struct AppRoute {
  std::string name;
  std::vector<EndpointSpec> endpoints;
  BalancingPolicy balancing = BalancingPolicy::kLeastRequest;
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds request_timeout{0};
  std::shared_ptr<AppStats> stats;
  std::shared_ptr<const AppCredentials> credentials;  // authorize: true (auth/credentials.h).
  // Mocks (dataplane/mocks/): set when the app answers from them, in mock mode or on request.
  std::shared_ptr<const MockTable> mocks;
  bool mock_mode = false;
  bool mock_header = false;
  // Rate-limit budgets (rateLimit, consumers' own limits); null for an app without any.
  std::shared_ptr<const AppLimits> limits;
  // Fan-out routes (dataplane/fanout/route_table.h); null for an app without routes.
  std::shared_ptr<const RouteTable> routes;
  std::shared_ptr<const Pipeline> pipeline;  // Stages, then a handler (pipeline/pipeline.h).
};

class Snapshot {
 public:
  // Validates and compiles `config`. On error the message says which app and field is wrong.
  // Per-app state that outlives the snapshot comes from `metrics` (stats) and `limits` (budgets).
  static absl::StatusOr<std::shared_ptr<const Snapshot>> Compile(const v1::ConfigSnapshot& config,
                                                                 Metrics& metrics,
                                                                 RateLimits& limits);

  uint64_t version() const { return version_; }
  size_t app_count() const { return apps_.size(); }

  // The app named by the first path segment, or null.
  const AppRoute* Find(std::string_view app) const;

  // Keys ("host:port") of every endpoint of every app.
  absl::flat_hash_set<std::string> EndpointKeys() const;

 private:
  uint64_t version_ = 0;
  absl::flat_hash_map<std::string, std::unique_ptr<const AppRoute>> apps_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_SNAPSHOT_H_
