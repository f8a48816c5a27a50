// The data plane's admin listener: /healthz (alive), /readyz (a snapshot serves), /metrics
// (Prometheus text). Its own thread and loop, so a busy proxy never delays a probe.
#ifndef VALET_DATAPLANE_ADMIN_SERVER_H_
#define VALET_DATAPLANE_ADMIN_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"

namespace valet {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  // Answers GET requests for a path (without query). Runs on the admin thread.
  using Handler = std::function<AdminResponse(std::string_view path)>;

  static absl::StatusOr<std::unique_ptr<AdminServer>> Create(
      const boost::asio::ip::tcp::endpoint& endpoint, Handler handler);
  ~AdminServer();

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void Start();
  void Stop();

 private:
  AdminServer(Handler handler);
  void Accept();

  Handler handler_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_ADMIN_SERVER_H_
