// A raw TCP connection for tests that must talk to a server step by step: write some bytes, wait
// for a given answer (with a deadline), write more. For exchanges HttpClient cannot express, such
// as a request that waits for "100 Continue" before sending its body.
//
// Threading: used by one thread at a time. Every operation blocks the caller until it completes
// or its deadline passes. Lifetime: the connection closes with the object.
#ifndef VALET_TESTS_SUPPORT_RAW_CONNECTION_H_
#define VALET_TESTS_SUPPORT_RAW_CONNECTION_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace valet::testing {

class RawConnection {
 public:
  // Connects to HOST:PORT (an IP literal). Unavailable or DeadlineExceeded on failure.
  static absl::StatusOr<std::unique_ptr<RawConnection>> Connect(const std::string& host, int port,
                                                                absl::Duration timeout);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Writes all of `bytes`.
  absl::Status Write(std::string_view bytes, absl::Duration timeout);

  // Reads until `delimiter` has arrived; returns everything up to and including its first
  // occurrence (what came after stays buffered for the next read). DeadlineExceeded if it has not
  // arrived in time, Unavailable if the peer closed first; either way with what did arrive.
  absl::StatusOr<std::string> ReadUntil(std::string_view delimiter, absl::Duration timeout);

  // Reads until the peer closes the connection; returns everything buffered and read.
  // DeadlineExceeded if the peer is still open at the deadline.
  absl::StatusOr<std::string> ReadToEnd(absl::Duration timeout);

 private:
  struct Impl;
  explicit RawConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_SUPPORT_RAW_CONNECTION_H_
