// valet-controlplane: owns the app configs (the conf dir), pushes snapshots to attached data
// planes, serves the gRPC control API and the REST admin.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/flag_args.h"
#include "common/logging.h"
#include "controlplane/listen_policy.h"
#include "controlplane/server.h"

ABSL_FLAG(std::string, conf_dir, "", "Directory of app configs (NAME.json), the source of truth.");
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:9090",
          "HOST:PORT of the gRPC control API and the attach stream. Beyond loopback it needs "
          "--tls-cert, --tls-key and --tokens-file (or --insecure).");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9091",
          "HOST:PORT of the REST admin API (plain HTTP: beyond loopback only with --insecure); "
          "empty: none.");
ABSL_FLAG(std::string, tokens_file, "",
          "Callers must send a token listed here (lines `NAME ROLE SHA256HEX`, roles admin, read, "
          "dataplane); SIGHUP re-reads it. See docs/security.md.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of the gRPC listener (TLS).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: ask clients for a certificate and verify it (mTLS); a verified client "
          "certificate may stand in for a dataplane token.");
ABSL_FLAG(int, tls_refresh_seconds, 10,
          "How often the TLS files are re-read (a rotated certificate serves new handshakes; "
          "attached data planes stay attached).");
ABSL_FLAG(bool, insecure, false,
          "Allow listening beyond loopback without TLS and tokens (warns at start and hourly).");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound addresses here (lines `grpc HOST:PORT`, `http HOST:PORT`).");

// Test only, left out of the usage line: makes every config change slow to reach the disk.
ABSL_FLAG(int, debug_write_delay_ms, 0,
          "Testing only: every config change waits this long before it writes to the conf dir.");

namespace {

int Run() {
  using namespace valet;
  const std::string conf_dir = absl::GetFlag(FLAGS_conf_dir);
  if (conf_dir.empty()) {
    std::cerr << "valet-controlplane: --conf-dir is required\n";
    return 2;
  }

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ControlPlaneOptions options;
  options.conf_dir = conf_dir;
  options.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  options.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.tls_refresh = absl::Seconds(std::max(1, absl::GetFlag(FLAGS_tls_refresh_seconds)));
  options.insecure = absl::GetFlag(FLAGS_insecure);
  options.debug_write_delay =
      absl::Milliseconds(std::max(0, absl::GetFlag(FLAGS_debug_write_delay_ms)));
  absl::StatusOr<std::unique_ptr<ControlPlaneServer>> server = ControlPlaneServer::Start(options);
  if (!server.ok()) {
    VALET_LOG(ERROR) << "cannot start:\n" << server.status().message();
    return 1;
  }
  VALET_LOG(INFO) << "gRPC control API on " << (*server)->grpc_address() << ", REST admin on "
                  << (*server)->http_address() << ", version " << (*server)->store()->version();

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status s =
        WriteFileAtomically(port_file, absl::StrCat("grpc ", (*server)->grpc_address(), "\nhttp ",
                                                    (*server)->http_address(), "\n"));
    if (!s.ok()) {
      VALET_LOG(ERROR) << "cannot write --port-file: " << s.message();
      return 1;
    }
  }

  if ((*server)->tokens() != nullptr) {
    VALET_LOG(INFO) << "callers need a token: " << (*server)->tokens()->size() << " in "
                    << options.tokens_file;
  }
  // With --insecure and a listener beyond loopback, the warning is repeated every hour, so that
  // it is in every log an operator looks at.
  std::string exposure;
  const bool exposed =
      ExposedWithoutProtection({options.grpc_listen, options.http_listen, !options.tls.cert.empty(),
                                !options.tokens_file.empty(), options.insecure},
                               &exposure);
  auto warn_exposed = [&] {
    if (exposed) VALET_LOG(WARNING) << "--insecure: " << exposure;
  };
  warn_exposed();

  int signal = 0;
  while (true) {
    constexpr timespec kWarnEvery = {3600, 0};
    signal = sigtimedwait(&stop_signals, nullptr, &kWarnEvery);
    if (signal < 0) {  // EAGAIN: an hour passed (or EINTR).
      if (errno == EAGAIN) warn_exposed();
      continue;
    }
    if (signal != SIGHUP) break;
    if ((*server)->tokens() == nullptr) {
      VALET_LOG(INFO) << "SIGHUP: no --tokens-file to re-read; TLS files are re-read every "
                      << absl::GetFlag(FLAGS_tls_refresh_seconds) << " s";
      continue;
    }
    if (absl::Status s = (*server)->ReloadTokens(); s.ok()) {
      VALET_LOG(INFO) << "SIGHUP: re-read " << options.tokens_file << ": "
                      << (*server)->tokens()->size() << " tokens";
    } else {
      VALET_LOG(ERROR) << "SIGHUP: kept the tokens in use, " << options.tokens_file
                       << " is refused:\n"
                       << s.message();
    }
  }
  VALET_LOG(INFO) << "signal " << signal << ": shutting down";
  // Streams (attach, watch) are cancelled when the grace period ends.
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  valet::SetLogProgramName("controlplane");
  absl::SetProgramUsageMessage(
      "valet-controlplane --conf-dir DIR [--grpc-listen HOST:PORT] [--http-listen HOST:PORT] "
      "[--tokens-file FILE] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--insecure] "
      "[--port-file PATH]");
  valet::ParseFlags(argc, argv);  // Accepts --conf-dir as well as --conf_dir.
  return Run();
}
