#include "dataplane/http_fields.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "boost/beast/http/rfc7230.hpp"

namespace valet {
namespace http = boost::beast::http;

namespace {

// RFC 9110 7.6.1, plus the fields older intermediaries treat as hop-by-hop.
constexpr std::string_view kHopByHop[] = {
    "Connection",        "Keep-Alive",    "Proxy-Connection",   "TE",
    "Trailer",           "Upgrade",       "Proxy-Authenticate", "Proxy-Authorization",
    "Transfer-Encoding", "Content-Length"};

}  // namespace

absl::Status CheckHost(const http::fields& fields, unsigned version) {
  auto hosts = fields.equal_range(http::field::host);
  auto count = std::distance(hosts.first, hosts.second);
  if (count > 1) return absl::InvalidArgumentError("more than one Host");
  if (count == 0 && version >= 11) return absl::InvalidArgumentError("no Host");
  return absl::OkStatus();
}

void StripHopByHop(http::fields& fields) {
  // Fields named in Connection are hop-by-hop too; collect them before Connection goes.
  std::vector<std::string> named;
  auto connection = fields.equal_range(http::field::connection);
  for (auto it = connection.first; it != connection.second; ++it) {
    for (auto token : http::token_list(it->value())) named.emplace_back(token);
  }
  for (const std::string& name : named) fields.erase(name);
  for (std::string_view name : kHopByHop) fields.erase(name);
}

std::optional<std::string> RequestedUpgrade(const http::fields& fields, unsigned version) {
  if (version < 11) return std::nullopt;
  auto upgrade = fields.find(http::field::upgrade);
  if (upgrade == fields.end() || upgrade->value().empty()) return std::nullopt;
  bool named = false;
  auto connection = fields.equal_range(http::field::connection);
  for (auto it = connection.first; it != connection.second && !named; ++it) {
    named = http::token_list(it->value()).exists("upgrade");
  }
  if (!named) return std::nullopt;
  std::string protocol(upgrade->value());
  if (absl::EqualsIgnoreCase(protocol, "h2c")) return std::nullopt;
  return protocol;
}

void SetForwardedFields(http::fields& fields, std::string_view client_ip, std::string_view proto) {
  auto xff = fields.find("X-Forwarded-For");
  if (xff != fields.end()) {
    std::string v(xff->value());
    v.append(", ").append(client_ip);
    fields.set("X-Forwarded-For", v);
  } else {
    fields.set("X-Forwarded-For", client_ip);
  }
  fields.set("X-Forwarded-Proto", proto);
  auto host = fields.find(http::field::host);
  if (host != fields.end()) {
    fields.set("X-Forwarded-Host", host->value());
  }
}

}  // namespace valet
