// Streams an HTTP message body from one connection to another in bounded pieces, so a body of
// any size passes through in constant memory. Used for request bodies (client -> backend) and
// response bodies (backend -> client). The serializer re-frames the body for the next hop
// (chunked stays chunked, Content-Length stays a length).
//
// The relay belongs to its owner (a Session) and holds no reference to it between operations;
// every pending operation keeps the owner alive through owner->shared_from_this(). Worker thread
// only.
#ifndef VALET_DATAPLANE_BODY_RELAY_H_
#define VALET_DATAPLANE_BODY_RELAY_H_

#include <chrono>
#include <cstddef>

#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "boost/beast/http/serializer.hpp"
#include "boost/beast/http/write.hpp"
#include "dataplane/net_types.h"

namespace valet {

// Which side of a relay failed.
enum class RelaySide { kNone, kInput, kOutput };

template <bool isRequest, class Owner>
class BodyRelay {
 public:
  using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>;
  using Serializer = boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>;
  using Done = void (Owner::*)(boost::beast::error_code, RelaySide);

  BodyRelay(Owner* owner, Done done) : owner_(owner), done_(done) {}

  // Relays the rest of `parser`'s body into `serializer` (whose header is already written).
  // `buffer` must hold `buffer_size` bytes and outlive the relay.
  void Start(TcpStream& in, boost::beast::flat_buffer& in_buffer, Parser& parser,
             TcpStream& out, Serializer& serializer, char* buffer,
             size_t buffer_size, std::chrono::milliseconds in_timeout,
             std::chrono::milliseconds out_timeout) {
    in_ = &in;
    in_buffer_ = &in_buffer;
    parser_ = &parser;
    out_ = &out;
    serializer_ = &serializer;
    buffer_ = buffer;
    buffer_size_ = buffer_size;
    in_timeout_ = in_timeout;
    out_timeout_ = out_timeout;
    Step();
  }

 private:
  void Step() {
    auto& body = parser_->get().body();
    if (!parser_->is_done()) {
      body.data = buffer_;
      body.size = buffer_size_;
      in_->expires_after(in_timeout_);
      boost::beast::http::async_read_some(
          *in_, *in_buffer_, *parser_,
          [self = owner_->shared_from_this(), this](boost::beast::error_code ec, size_t) {
            OnRead(ec);
          });
      return;
    }
    body.data = nullptr;
    body.size = 0;
    body.more = false;
    Write();
  }

  void OnRead(boost::beast::error_code ec) {
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) return Finish(ec, RelaySide::kInput);
    auto& body = parser_->get().body();
    size_t got = buffer_size_ - body.size;
    if (got == 0) {
      // Only framing was read (a chunk header, say). An empty buffer must not reach the
      // serializer: in chunked mode it would encode the last chunk.
      return Step();
    }
    body.size = got;
    body.data = buffer_;
    body.more = !parser_->is_done();
    Write();
  }

  void Write() {
    out_->expires_after(out_timeout_);
    boost::beast::http::async_write(
        *out_, *serializer_,
        [self = owner_->shared_from_this(), this](boost::beast::error_code ec, size_t) {
          OnWrite(ec);
        });
  }

  void OnWrite(boost::beast::error_code ec) {
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) return Finish(ec, RelaySide::kOutput);
    if (serializer_->is_done()) return Finish({}, RelaySide::kNone);
    Step();
  }

  void Finish(boost::beast::error_code ec, RelaySide side) { (owner_->*done_)(ec, side); }

  Owner* owner_;
  Done done_;
  TcpStream* in_ = nullptr;
  boost::beast::flat_buffer* in_buffer_ = nullptr;
  Parser* parser_ = nullptr;
  TcpStream* out_ = nullptr;
  Serializer* serializer_ = nullptr;
  char* buffer_ = nullptr;
  size_t buffer_size_ = 0;
  std::chrono::milliseconds in_timeout_{0};
  std::chrono::milliseconds out_timeout_{0};
};

}  // namespace valet

#endif  // VALET_DATAPLANE_BODY_RELAY_H_
