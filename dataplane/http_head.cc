#include "dataplane/http_head.h"

#include <charconv>

#include "boost/beast/http/status.hpp"

namespace valet {
namespace http = boost::beast::http;

namespace {

void AppendFields(const http::fields& fields, std::string* out) {
  for (const auto& field : fields) {
    out->append(field.name_string());
    out->append(": ");
    out->append(field.value());
    out->append("\r\n");
  }
  out->append("\r\n");
}

}  // namespace

void SerializeRequestHead(std::string_view method, std::string_view target,
                          const http::fields& fields, std::string* out) {
  out->clear();
  out->append(method);
  out->push_back(' ');
  out->append(target);
  out->append(" HTTP/1.1\r\n");
  AppendFields(fields, out);
}

void SerializeResponseHead(unsigned status, std::string_view reason, const http::fields& fields,
                           std::string* out) {
  out->clear();
  out->append("HTTP/1.1 ");
  char digits[8];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), status);
  out->append(digits, end);
  out->push_back(' ');
  if (reason.empty()) reason = http::obsolete_reason(static_cast<http::status>(status));
  out->append(reason);
  out->append("\r\n");
  AppendFields(fields, out);
}

}  // namespace valet
