// The one logging facade of Valet (Abseil 20220623 has no absl/log).
//
//   VALET_LOG(INFO) << "listening on " << port;
//
// Lines go to stderr as "2026-11-27T19:28:05.123Z I dataplane: message". Thread-safe: a line is
// built in the caller's thread and written with one write(2).
#ifndef VALET_COMMON_LOGGING_H_
#define VALET_COMMON_LOGGING_H_

#include <sstream>
#include <string>
#include <string_view>

namespace valet {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide settings; call once at start, before threads.
void SetLogProgramName(std::string_view name);
void SetMinLogSeverity(LogSeverity severity);
LogSeverity MinLogSeverity();

class LogMessage {
 public:
  explicit LogMessage(LogSeverity severity) : severity_(severity) {}
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  ~LogMessage();

  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Lower precedence than <<, higher than ?:, so the whole stream expression is the operand.
struct LogMessageVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace valet

#define VALET_LOG_SEVERITY_DEBUG ::valet::LogSeverity::kDebug
#define VALET_LOG_SEVERITY_INFO ::valet::LogSeverity::kInfo
#define VALET_LOG_SEVERITY_WARNING ::valet::LogSeverity::kWarning
#define VALET_LOG_SEVERITY_ERROR ::valet::LogSeverity::kError

#define VALET_LOG(severity)                                   \
  (VALET_LOG_SEVERITY_##severity < ::valet::MinLogSeverity()) \
      ? (void)0                                               \
      : ::valet::LogMessageVoidify() & ::valet::LogMessage(VALET_LOG_SEVERITY_##severity).stream()

#endif  // VALET_COMMON_LOGGING_H_
