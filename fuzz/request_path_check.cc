#include "fuzz/request_path_check.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/buffer.hpp"
#include "boost/beast/http/buffer_body.hpp"
#include "boost/beast/http/empty_body.hpp"
#include "boost/beast/http/parser.hpp"
#include "boost/optional.hpp"
#include "common/http_framing.h"
#include "common/string_view.h"
#include "dataplane/http_fields.h"
#include "dataplane/http_head.h"
#include "dataplane/metrics.h"
#include "dataplane/options.h"
#include "dataplane/request_target.h"
#include "dataplane/snapshot.h"

namespace valet::fuzz {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using RequestParser = http::request_parser<http::buffer_body>;

// Requests read from one connection's bytes (keep-alive and pipelining), at most.
constexpr int kMaxRequestsPerInput = 8;
// The proxy relays a body through a buffer of this order; a small one exercises more steps.
constexpr size_t kBodyChunkBytes = 512;

// Three apps: no endpoint prefix, a prefix, an IPv6 literal on port 80 with prefix "/".
const Snapshot& RoutingSnapshot() {
  static const std::shared_ptr<const Snapshot>* snapshot = [] {
    v1::ConfigSnapshot config;
    config.set_version(1);
    v1::AppConfig* demo = config.add_apps();
    demo->set_name("demo");
    for (uint32_t port : {9050u, 9051u}) {
      v1::Endpoint* ep = demo->add_endpoints();
      ep->set_host("127.0.0.1");
      ep->set_port(port);
    }
    v1::AppConfig* catalog = config.add_apps();
    catalog->set_name("catalog");
    v1::Endpoint* ep = catalog->add_endpoints();
    ep->set_host("catalog.internal");
    ep->set_port(9052);
    ep->set_path("/api/v1");
    v1::AppConfig* six = config.add_apps();
    six->set_name("v6.app_1");
    ep = six->add_endpoints();
    ep->set_host("[::1]");
    ep->set_port(80);
    ep->set_path("/");
    static Metrics metrics;
    static RateLimits limits;
    absl::StatusOr<std::shared_ptr<const Snapshot>> compiled =
        Snapshot::Compile(config, metrics, limits);
    if (!compiled.ok()) std::abort();  // The fixed config above is valid.
    return new std::shared_ptr<const Snapshot>(*std::move(compiled));
  }();
  return **snapshot;
}

bool IsDotSegment(std::string_view s) {
  auto is = [s](const char* dots) { return absl::EqualsIgnoreCase(AsAbsl(s), dots); };
  return is(".") || is("..") || is("%2e") || is("%2e%2e") || is(".%2e") || is("%2e.");
}

// Normalisation is idempotent, and leaves no dot-segment in the rest.
absl::Status CheckNormalised(const RequestTarget& target) {
  std::string again = target.app.empty() ? "/" : absl::StrCat("/", target.app, target.rest);
  if (!target.query.empty()) absl::StrAppend(&again, "?", target.query);
  absl::StatusOr<RequestTarget> reparsed = ParseRequestTarget(again);
  if (!reparsed.ok()) {
    return absl::InternalError(
        absl::StrCat("the normalised target is refused: ", reparsed.status().message()));
  }
  if (reparsed->app != target.app || reparsed->rest != target.rest ||
      reparsed->query != target.query) {
    return absl::InternalError("normalising the normalised target changes it");
  }
  if (IsDotSegment(target.app)) return absl::InternalError("the app is a dot-segment");
  std::string_view rest = target.rest;
  for (int i = 0; !rest.empty() && i <= static_cast<int>(target.rest.size()); ++i) {
    rest.remove_prefix(1);  // The '/' before each segment.
    std::string_view segment = rest.substr(0, rest.find('/'));
    if (IsDotSegment(segment)) return absl::InternalError("a dot-segment reaches the backend");
    rest.remove_prefix(segment.size());
  }
  return absl::OkStatus();
}

// The head for the backend parses back as one request with the same method, target and framing,
// and carries no hop-by-hop field.
absl::Status CheckUpstreamHead(const std::string& head,
                               const http::request<http::buffer_body>& sent, bool chunked,
                               boost::optional<uint64_t> length) {
  http::request_parser<http::empty_body> parser;
  // The backend's limits are its own: only the framing must read back the same.
  parser.header_limit(std::numeric_limits<uint32_t>::max());
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  parser.eager(false);
  beast::error_code ec;
  size_t used = parser.put(asio::buffer(head), ec);
  if (ec || !parser.is_header_done() || used != head.size()) {
    return absl::InternalError(absl::StrCat("the head for the backend does not parse back whole: ",
                                            ec ? ec.message() : "incomplete"));
  }
  const auto& back = parser.get();
  if (back.method_string() != sent.method_string() || back.target() != sent.target()) {
    return absl::InternalError("the head for the backend changes the method or the target");
  }
  if (absl::Status framing = CheckFraming(back); !framing.ok()) {
    return absl::InternalError(
        absl::StrCat("the head for the backend has ambiguous framing: ", framing.message()));
  }
  if (absl::Status host = CheckHost(back, 11); !host.ok()) {
    return absl::InternalError(absl::StrCat("the head for the backend: ", host.message()));
  }
  if (parser.chunked() != chunked || parser.content_length() != length) {
    return absl::InternalError("the head for the backend frames the body differently");
  }
  for (std::string_view name : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                                "Upgrade", "Proxy-Authorization"}) {
    if (back.count(name) != 0) {
      return absl::InternalError(
          absl::StrCat("a hop-by-hop field reaches the backend: ", std::string(name)));
    }
  }
  return absl::OkStatus();
}

// Reads the body through the parser in small steps, as the relay does. False if it cannot be
// read whole from `*in` (an error, or the input ends first).
bool ReadBody(RequestParser& parser, std::string_view* in) {
  std::array<char, kBodyChunkBytes> chunk;
  // Each step consumes input or fills the buffer; more steps than bytes is a stuck parser.
  for (size_t step = 0; !parser.is_done() && step <= 2 * in->size() + 2; ++step) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    beast::error_code ec;
    size_t used = parser.put(asio::buffer(in->data(), in->size()), ec);
    in->remove_prefix(used);
    if (ec == http::error::need_buffer) continue;
    if (ec) return false;
    if (used == 0 && parser.get().body().size == chunk.size()) return false;
  }
  return parser.is_done();
}

// One request from the front of `*in`. False when the connection would be closed after it.
absl::StatusOr<bool> RunOneRequest(std::string_view* in) {
  const ProxyOptions options;
  RequestParser parser;
  parser.header_limit(options.max_header_bytes);
  parser.body_limit(options.max_body_bytes);
  beast::error_code ec;
  size_t used = parser.put(asio::buffer(in->data(), in->size()), ec);
  in->remove_prefix(used);
  if (ec || !parser.is_header_done()) return false;  // 400, 413, 431, or the input ended.

  auto& req = parser.get();
  bool keep_alive = req.keep_alive();
  if (!CheckFraming(req).ok() || !CheckHost(req, req.version()).ok()) return false;
  absl::StatusOr<RequestTarget> target = ParseRequestTarget(req.target());
  if (target.ok()) {
    if (absl::Status normalised = CheckNormalised(*target); !normalised.ok()) return normalised;
    const AppRoute* app = RoutingSnapshot().Find(target->app);
    if (app != nullptr) {
      req.erase(http::field::expect);
      StripHopByHop(req);
      SetForwardedFields(req, "192.0.2.1", "http");
      req.version(11);
      if (auto length = parser.content_length()) {
        req.content_length(*length);
      } else if (parser.chunked()) {
        req.chunked(true);
      }
      for (const EndpointSpec& endpoint : app->endpoints) {
        req.target(UpstreamTarget(endpoint.path_prefix, *target));
        req.set(http::field::host, endpoint.host_header);
        std::string head;
        SerializeRequestHead(req.method_string(), req.target(), req, &head);
        absl::Status upstream =
            CheckUpstreamHead(head, req, parser.chunked(), parser.content_length());
        if (!upstream.ok()) return upstream;
      }
    }
  }
  // Routed or answered with an error, the body is read (relayed or drained) before the next
  // request on the connection.
  if (!ReadBody(parser, in)) return false;
  return keep_alive;
}

}  // namespace

absl::Status RunRequestPath(std::string_view bytes) {
  for (int i = 0; i < kMaxRequestsPerInput && !bytes.empty(); ++i) {
    absl::StatusOr<bool> more = RunOneRequest(&bytes);
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  return absl::OkStatus();
}

}  // namespace valet::fuzz
