#include "valetctl/control_connection.h"

#include <grpcpp/support/client_interceptor.h>

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/message_limits.h"
#include "common/string_view.h"
#include "common/tls_files.h"
#include "common/tokens_file.h"
#include "common/validation_errors.h"
#include "valetctl/cli.h"

namespace valet::ctl {
namespace {

// gRPC's codes are the canonical ones Abseil names (google.rpc.Code); a code outside them reads
// as UNKNOWN.
std::string CodeName(grpc::StatusCode code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration d) {
  return std::chrono::system_clock::now() + std::chrono::microseconds(absl::ToInt64Microseconds(d));
}

// Adds `authorization: Bearer TOKEN` to every call of the channel (the watch and the wait make
// their own contexts; one place covers them all).
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *value_});
    }
    methods->Proceed();
  }

 private:
  const std::string* value_;
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string token) : value_("Bearer " + std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&value_);
  }

 private:
  const std::string value_;  // The factory lives as long as the channel.
};

}  // namespace

absl::StatusOr<ConnectionSecurity> ResolveSecurity(const GlobalOptions& global,
                                                   std::string_view env_token) {
  ConnectionSecurity security;
  absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> tls =
      ReadChannelTlsFiles({global.tls_ca, global.tls_cert, global.tls_key});
  if (!tls.ok()) return tls.status();
  security.tls = std::move(*tls);
  if (!global.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(global.token_file);
    if (!token.ok()) return token.status();
    security.token = std::move(*token);
  } else {
    security.token = std::string(absl::StripAsciiWhitespace(AsAbsl(env_token)));
    for (char c : security.token) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError(
            absl::StrCat("$", AsAbsl(kTokenEnvVar),
                         ": the token must be one word of visible ASCII "
                         "characters"));
      }
    }
  }
  return security;
}

std::string AuthHint(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED) return "";
  return "hint: the control plane wants a token: pass --token-file FILE or set VALET_TOKEN "
         "(docs/security.md)\n";
}

std::vector<v1::ValidationError> StatusValidationErrors(const grpc::Status& status) {
  absl::Status s = StatusFromGrpc(static_cast<int>(status.error_code()), status.error_message(),
                                  status.error_details());
  if (!HasValidationErrors(s)) return {};
  return ValidationErrorsOf(s);
}

std::vector<std::string> StatusErrorLines(const grpc::Status& status) {
  std::vector<std::string> lines;
  for (const v1::ValidationError& e : StatusValidationErrors(status)) {
    lines.push_back(FormatValidationError(e));
  }
  if (!lines.empty()) return lines;
  // No list: a message for people, shown line by line.
  for (absl::string_view line : absl::StrSplit(status.error_message(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) lines.emplace_back(line);
  }
  if (lines.empty()) lines.emplace_back(CodeName(status.error_code()));
  return lines;
}

int ExitCodeForStatus(const grpc::Status& status, bool channel_ready) {
  if (status.ok()) return kExitOk;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return kExitUnreachable;
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !channel_ready) {
    return kExitUnreachable;
  }
  return kExitRefused;
}

int ExitCodeForChange(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return kExitOk;
    // The control plane's own refusals (and the client's, before anything went out): nothing
    // changed.
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNIMPLEMENTED:
      return kExitRefused;
    // DEADLINE_EXCEEDED, UNAVAILABLE, CANCELLED, UNKNOWN, INTERNAL, ABORTED, DATA_LOSS: the
    // change may have been applied before (or while) the call failed.
    default:
      return kExitOutcomeUnknown;
  }
}

ControlConnection::ControlConnection(std::string server, absl::Duration timeout,
                                     const ConnectionSecurity& security)
    : server_(std::move(server)), timeout_(timeout) {
  grpc::ChannelArguments args;
  // One try per connection attempt is enough for a CLI; the deadline bounds the rest.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(kMaxGrpcMessageBytes));
  std::shared_ptr<grpc::ChannelCredentials> credentials = ChannelCredentials(security.tls);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!security.token.empty()) {
    interceptors.push_back(std::make_unique<TokenInterceptorFactory>(security.token));
  }
  channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(server_, credentials, args,
                                                                     std::move(interceptors));
  stub_ = v1::ControlService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> ControlConnection::NewContext(absl::Duration extra) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(DeadlineAfter(timeout_ + extra));
  return context;
}

bool ControlConnection::Connect(std::string* reason) {
  return Connect(reason, DeadlineAfter(timeout_));
}

bool ControlConnection::Connect(std::string* reason,
                                std::chrono::system_clock::time_point deadline) {
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  // IDLE -> CONNECTING -> READY or TRANSIENT_FAILURE: a handful of changes; bounded anyway.
  for (int changes = 0; changes < 100; ++changes) {
    if (state == GRPC_CHANNEL_READY) return true;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      *reason = "connection failed (is the control plane running there?)";
      return false;
    }
    if (!channel_->WaitForStateChange(state, deadline)) break;
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  *reason = "no connection within " + absl::FormatDuration(timeout_);
  return false;
}

bool ControlConnection::ConnectForChange(std::chrono::system_clock::time_point deadline,
                                         std::ostream& err) {
  std::string reason;
  if (Connect(&reason, deadline)) return true;
  err << "error: cannot reach the control plane at " << server_ << ": " << reason
      << "; nothing was sent\n";
  return false;
}

int ControlConnection::ReportError(const grpc::Status& status, std::string_view what,
                                   std::ostream& err,
                                   const std::function<void(v1::ValidationError*)>& rewrite,
                                   bool mutation) {
  if (mutation) {
    int code = ExitCodeForChange(status);
    if (code == kExitOutcomeUnknown) {
      err << "error: " << what << ": ";
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        err << "no answer within " << absl::FormatDuration(timeout_);
      } else {
        err << "the change was sent to " << server_ << ", then the call failed ("
            << CodeName(status.error_code()) << ": "
            << absl::StrJoin(StatusErrorLines(status), "; ") << ")";
      }
      err << "; the outcome is unknown: the change may have landed; check `valetctl version` "
             "and `valetctl apps list`";
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) err << " (raise --timeout)";
      err << "\n";
      return code;
    }
  }
  bool ready = channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
  int code = ExitCodeForStatus(status, ready);
  if (code == kExitUnreachable) {
    std::string reason = StatusErrorLines(status).front();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      reason = "no connection within " + absl::FormatDuration(timeout_);
    }
    err << "error: cannot reach the control plane at " << server_ << ": " << reason << "\n";
    return code;
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    err << "error: " << what << ": no answer within " << absl::FormatDuration(timeout_)
        << " (raise --timeout)\n";
    return code;
  }
  std::vector<std::string> lines;
  std::vector<v1::ValidationError> errors = StatusValidationErrors(status);
  for (v1::ValidationError& e : errors) {
    if (rewrite) rewrite(&e);
    lines.push_back(FormatValidationError(e));
  }
  if (lines.empty()) lines = StatusErrorLines(status);
  if (lines.size() == 1) {
    err << "error: " << what << ": " << lines.front() << "\n";
  } else {
    for (const std::string& line : lines) err << "error: " << line << "\n";
  }
  err << AuthHint(status);
  return code;
}

}  // namespace valet::ctl
