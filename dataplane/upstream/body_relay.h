// Streams an HTTP message from one connection to another in bounded pieces, so a body of any
// size passes through in constant memory. Used for requests (client -> backend) and responses
// (backend -> client).
//
// The relay writes the serialized header (`head`) itself, together with the first body bytes
// when they are already buffered, so a small message leaves in one write(2). Framing is redone
// for the next hop: a Content-Length body is copied as is; a chunked body is re-chunked, one
// chunk per piece read, and ended with the last chunk (trailers are dropped).
//
// The relay belongs to its owner (a Session) and holds no reference to it between operations;
// every pending operation keeps the owner alive through owner->shared_from_this(). Worker thread
// only.
#ifndef VALET_DATAPLANE_UPSTREAM_BODY_RELAY_H_
#define VALET_DATAPLANE_UPSTREAM_BODY_RELAY_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>

#include "boost/asio/basic_waitable_timer.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/beast/http/read.hpp"
#include "dataplane/net_types.h"
#include "dataplane/tls/maybe_tls_stream.h"

namespace valet {

// Which side of a relay failed.
enum class RelaySide { kNone, kInput, kOutput };

template <bool isRequest, class Owner>
class BodyRelay {
 public:
  using Parser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>;
  using Done = void (Owner::*)(boost::beast::error_code, RelaySide);

  BodyRelay(Owner* owner, Done done) : owner_(owner), done_(done) {}

  struct Io {
    MaybeTlsStream* in;
    boost::beast::flat_buffer* in_buffer;
    Parser* parser;  // Header already parsed.
    MaybeTlsStream* out;
    std::chrono::milliseconds in_timeout;
    std::chrono::milliseconds out_timeout;
  };

  // Also appends the body bytes relayed to `into` while it stays within `limit` bytes; past it,
  // sets `*over` (recording, docs/mocks.md). Call before Start.
  void Tap(std::string* into, size_t limit, bool* over) {
    tap_ = into;
    tap_limit_ = limit;
    tap_over_ = over;
  }

  // Writes `head` (may be empty: already sent) and relays the body the parser announces.
  // `head` and `buffer` (of `buffer_size` bytes) must outlive the relay.
  void Start(const Io& io, std::string_view head, bool chunked, char* buffer, size_t buffer_size) {
    if (io_.in != io.in) untimed_in_.reset();
    io_ = io;
    head_ = head;
    chunked_ = chunked;
    buffer_ = buffer;
    buffer_size_ = buffer_size;
    last_chunk_sent_ = false;
    if (!head_.empty() && io_.in_buffer->size() == 0 && !io_.parser->is_done()) {
      // No body bytes at hand: the header goes out now, not when the body starts (a slow or
      // streaming body must not hold the header back).
      return Write(0);
    }
    Step();
  }

 private:
  void Step() {
    if (io_.parser->is_done()) return Write(0);
    auto& body = io_.parser->get().body();
    body.data = buffer_;
    body.size = buffer_size_;
    if constexpr (isRequest) {
      // The client's body: the read's deadline cancels it rather than closing the socket (as the
      // stream's own deadline would), so that a body that stops arriving still gets its 408.
      uint64_t generation = ++read_generation_;
      read_timed_out_ = false;
      if (!read_timer_) read_timer_.emplace(io_.in->get_executor());
      read_timer_->expires_after(io_.in_timeout);
      read_timer_->async_wait(
          [self = owner_->shared_from_this(), this, generation](boost::beast::error_code ec) {
            if (ec || generation != read_generation_) return;
            read_timed_out_ = true;
            boost::beast::error_code ignored;
            io_.in->socket().cancel(ignored);
          });
      if (!untimed_in_) untimed_in_.emplace(*io_.in);
      boost::beast::http::async_read_some(
          *untimed_in_, *io_.in_buffer, *io_.parser,
          [self = owner_->shared_from_this(), this](boost::beast::error_code ec, size_t) {
            ++read_generation_;
            read_timer_->cancel();
            if (ec == boost::asio::error::operation_aborted && read_timed_out_) {
              ec = boost::beast::error::timeout;
            }
            OnRead(ec);
          });
    } else {
      io_.in->expires_after(io_.in_timeout);
      boost::beast::http::async_read_some(*io_.in, *io_.in_buffer, *io_.parser,
                                          [self = owner_->shared_from_this(), this](
                                              boost::beast::error_code ec, size_t) { OnRead(ec); });
    }
  }

  void OnRead(boost::beast::error_code ec) {
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) return Finish(ec, RelaySide::kInput);
    size_t got = buffer_size_ - io_.parser->get().body().size;
    // Only framing was read (a chunk header, say): read on.
    if (got == 0 && !io_.parser->is_done()) return Step();
    Write(got);
  }

  // Writes what is pending: the head, `n` body bytes (framed), the last chunk once the parser is
  // done. Then reads on, or finishes.
  void Write(size_t n) {
    static constexpr std::string_view kCrlf = "\r\n";
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    pieces_.fill(boost::asio::const_buffer());
    size_t count = 0;
    if (!head_.empty()) pieces_[count++] = boost::asio::buffer(head_.data(), head_.size());
    if (n > 0) {
      if (chunked_) {
        int len = std::snprintf(chunk_size_, sizeof(chunk_size_), "%zx\r\n", n);
        pieces_[count++] = boost::asio::buffer(chunk_size_, static_cast<size_t>(len));
      }
      pieces_[count++] = boost::asio::buffer(buffer_, n);
      if (tap_ != nullptr) {
        if (tap_->size() + n <= tap_limit_) {
          tap_->append(buffer_, n);
        } else {
          *tap_over_ = true;
        }
      }
      if (chunked_) pieces_[count++] = boost::asio::buffer(kCrlf.data(), kCrlf.size());
    }
    bool last = io_.parser->is_done();
    if (last && chunked_ && !last_chunk_sent_) {
      pieces_[count++] = boost::asio::buffer(kLastChunk.data(), kLastChunk.size());
      last_chunk_sent_ = true;
    }
    head_ = {};
    if (count == 0) return Finish({}, RelaySide::kNone);
    io_.out->expires_after(io_.out_timeout);
    boost::asio::async_write(
        *io_.out, pieces_,
        [self = owner_->shared_from_this(), this, last](boost::beast::error_code ec, size_t) {
          if (ec) return Finish(ec, RelaySide::kOutput);
          if (last) return Finish({}, RelaySide::kNone);
          Step();
        });
  }

  void Finish(boost::beast::error_code ec, RelaySide side) { (owner_->*done_)(ec, side); }

  Owner* owner_;
  Done done_;
  Io io_{};
  std::string_view head_;
  bool chunked_ = false;
  char* buffer_ = nullptr;
  size_t buffer_size_ = 0;
  bool last_chunk_sent_ = false;
  std::array<boost::asio::const_buffer, 5> pieces_;  // Of the write in flight.
  // The deadline of a request body read (see Step).
  std::optional<boost::asio::basic_waitable_timer<
      std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, LoopExecutor>>
      read_timer_;
  std::optional<UntimedStream> untimed_in_;  // io_.in without its deadline.
  uint64_t read_generation_ = 0;
  bool read_timed_out_ = false;
  char chunk_size_[24];
  std::string* tap_ = nullptr;
  size_t tap_limit_ = 0;
  bool* tap_over_ = nullptr;
};

}  // namespace valet

#endif  // VALET_DATAPLANE_UPSTREAM_BODY_RELAY_H_
