#include "dataplane/listener.h"

#include "common/acceptor.h"
#include "common/logging.h"
#include "dataplane/session.h"
#include "dataplane/tls/certificate_store.h"
#include "dataplane/worker.h"

namespace valet {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

absl::StatusOr<std::shared_ptr<Listener>> Listener::Bind(std::vector<Worker*> workers,
                                                         const tcp::endpoint& ep,
                                                         std::shared_ptr<CertificateStore> tls) {
  tcp::acceptor acceptor(workers.front()->io());
  if (absl::Status opened = OpenAcceptor(acceptor, ep); !opened.ok()) return opened;
  return std::shared_ptr<Listener>(
      new Listener(std::move(workers), std::move(acceptor), std::move(tls)));
}

Listener::Listener(std::vector<Worker*> workers, tcp::acceptor acceptor,
                   std::shared_ptr<CertificateStore> tls)
    : workers_(std::move(workers)),
      acceptor_(std::move(acceptor)),
      backoff_(workers_.front()->io()),
      tls_(std::move(tls)) {}

Worker& Listener::LeastLoaded() {
  size_t best = next_ % workers_.size();
  for (size_t i = 1; i < workers_.size(); ++i) {
    size_t candidate = (next_ + i) % workers_.size();
    if (workers_[candidate]->session_count() < workers_[best]->session_count()) best = candidate;
  }
  next_ = best + 1;
  return *workers_[best];
}

tcp::endpoint Listener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::Start() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->Accept(); });
}

void Listener::Stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->backoff_.cancel();
  });
}

void Listener::Accept() {
  // The new socket belongs to its worker's loop from the start; only the session's creation is
  // posted there.
  Worker& worker = LeastLoaded();
  auto socket = std::make_shared<TcpSocket>(worker.io().get_executor());
  acceptor_.async_accept(
      *socket, [self = shared_from_this(), &worker, socket](boost::system::error_code ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
          // Out of file descriptors or memory: back off instead of spinning.
          VALET_LOG(WARNING) << "accept failed: " << ec.message();
          self->backoff_.expires_after(std::chrono::milliseconds(50));
          self->backoff_.async_wait([self](boost::system::error_code wait_ec) {
            if (!wait_ec) self->Accept();
          });
          return;
        }
        if (self->tls_ != nullptr) {
          // The certificates current at accept serve the connection for its life.
          asio::post(worker.io(), [&worker, socket, tls = self->tls_->current()]() mutable {
            std::make_shared<Session>(worker, std::move(*socket), std::move(tls))->Start();
          });
        } else {
          asio::post(worker.io(), [&worker, socket]() {
            std::make_shared<Session>(worker, std::move(*socket))->Start();
          });
        }
        self->Accept();
      });
}

}  // namespace valet
