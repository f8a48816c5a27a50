// Serializes the start line and header fields of a message for the next hop into one contiguous
// buffer, so it leaves in a single piece of one write(2) (Beast's serializer hands the kernel
// four pieces per field).
#ifndef VALET_DATAPLANE_HTTP_HEAD_H_
#define VALET_DATAPLANE_HTTP_HEAD_H_

#include <string>
#include <string_view>

#include "boost/beast/http/fields.hpp"

namespace valet {

// "METHOD TARGET HTTP/1.1\r\n" + fields + "\r\n" into `out` (replacing its contents, keeping its
// capacity).
void SerializeRequestHead(std::string_view method, std::string_view target,
                          const boost::beast::http::fields& fields, std::string* out);

// "HTTP/1.1 STATUS REASON\r\n" + fields + "\r\n"; an empty reason becomes the standard one.
void SerializeResponseHead(unsigned status, std::string_view reason,
                           const boost::beast::http::fields& fields, std::string* out);

}  // namespace valet

#endif  // VALET_DATAPLANE_HTTP_HEAD_H_
