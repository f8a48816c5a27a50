// watch: prints each new config version as the control plane reports it, until interrupted.
//
// SIGINT and SIGTERM are blocked before the channel (and its threads) exist; a helper thread takes
// them with sigwait and cancels the stream, so an interrupt is a clean end (exit 0), not a kill.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "valetctl/command_env.h"
#include "valetctl/commands.h"

namespace valet::ctl {
namespace {

// Blocks `signals` in this thread (and in every thread it starts) while alive.
class ScopedSignalBlock {
 public:
  explicit ScopedSignalBlock(const sigset_t& signals) {
    pthread_sigmask(SIG_BLOCK, &signals, &old_);
  }
  ~ScopedSignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  ScopedSignalBlock(const ScopedSignalBlock&) = delete;
  ScopedSignalBlock& operator=(const ScopedSignalBlock&) = delete;

 private:
  sigset_t old_;
};

int Watch(const Invocation& inv, CommandEnv& env) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  ScopedSignalBlock block(signals);

  grpc::ClientContext context;  // No deadline: the stream lasts until interrupted.
  std::atomic<bool> finished{false};
  std::atomic<bool> interrupted{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (!finished.load()) {
      interrupted.store(true);
      context.TryCancel();  // Ends the Read() below; safe before the call starts too.
    }
  });
  auto stop_signal_thread = [&] {
    finished.store(true);
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // Wakes sigwait if still waiting.
    signal_thread.join();
  };

  ControlConnection& conn = env.connection();
  std::string reason;
  if (!conn.Connect(&reason)) {
    stop_signal_thread();
    if (interrupted.load()) return kExitOk;
    env.err() << "error: cannot reach the control plane at " << conn.server() << ": " << reason
              << "\n";
    return kExitUnreachable;
  }

  bool json = env.global().output == OutputFormat::kJson;
  std::unique_ptr<grpc::ClientReader<v1::VersionEvent>> reader =
      conn.stub().WatchVersions(&context, {});
  v1::VersionEvent event;
  while (reader->Read(&event)) {
    env.out() << (json ? ToJson(event, /*pretty=*/false) : RenderVersionEvent(event) + "\n")
              << std::flush;
  }
  grpc::Status status = reader->Finish();
  stop_signal_thread();
  if (interrupted.load()) return kExitOk;
  if (status.ok()) {
    env.err() << "error: the control plane at " << conn.server() << " ended the watch\n";
    return kExitUnreachable;
  }
  // A control plane that shuts down cancels its calls (gRPC says "Cancelling all calls"); one
  // that dies drops the connection. Either way it stopped: say so, not gRPC's words.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::CANCELLED) {
    env.err() << "error: watch: the control plane at " << conn.server()
              << " stopped (it shut down, or the connection to it was lost)\n";
    return kExitUnreachable;
  }
  return conn.ReportError(status, "watch", env.err());
}

}  // namespace

CommandSpec WatchCommand() {
  CommandSpec c;
  c.path = {"watch"};
  c.summary = "Print each new config version (changed and deleted apps) until interrupted.";
  c.details =
      "The first line is the current version. With -o json each event is one JSON object per\n"
      "line. Ctrl-C (SIGINT) or SIGTERM ends it with exit code 0; --timeout bounds only the\n"
      "connection.";
  c.handler = Watch;
  return c;
}

}  // namespace valet::ctl
