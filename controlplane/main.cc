// valet-controlplane: owns the app configs (the conf dir), pushes snapshots to attached data
// planes, serves the gRPC control API and the REST admin.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/conf_dir.h"
#include "common/logging.h"
#include "controlplane/app_store.h"
#include "controlplane/attach_service.h"
#include "controlplane/control_api.h"
#include "controlplane/control_service.h"
#include "controlplane/dataplane_registry.h"
#include "controlplane/rest_admin.h"

ABSL_FLAG(std::string, conf_dir, "", "Directory of app configs (NAME.json), the source of truth.");
ABSL_FLAG(std::string, grpc_listen, "0.0.0.0:9090", "HOST:PORT of the gRPC control API.");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9091", "HOST:PORT of the REST admin API.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the bound addresses here (lines `grpc HOST:PORT`, `http HOST:PORT`).");

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
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<AppStore>> store = AppStore::Open(conf_dir);
  if (!store.ok()) {
    VALET_LOG(ERROR) << "cannot load " << conf_dir << ":\n" << store.status().message();
    return 1;
  }
  DataplaneRegistry registry;
  ControlApi api(store->get(), &registry);
  AttachService attach(store->get(), &registry);
  ControlService control(&api);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  const std::string grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  builder.AddListeningPort(grpc_listen, grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&attach);
  builder.RegisterService(&control);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || grpc_port == 0) {
    VALET_LOG(ERROR) << "cannot listen on --grpc-listen " << grpc_listen;
    return 1;
  }
  std::string grpc_host = grpc_listen.substr(0, grpc_listen.rfind(':'));
  std::string grpc_bound = absl::StrCat(grpc_host, ":", grpc_port);

  absl::StatusOr<std::unique_ptr<RestAdmin>> admin =
      RestAdmin::Start(&api, absl::GetFlag(FLAGS_http_listen));
  if (!admin.ok()) {
    VALET_LOG(ERROR) << admin.status().message();
    server->Shutdown();
    return 1;
  }
  VALET_LOG(INFO) << "gRPC control API on " << grpc_bound << ", REST admin on "
                  << (*admin)->bound_address() << ", version " << (*store)->version();

  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    absl::Status s = WriteFileAtomically(
        port_file, absl::StrCat("grpc ", grpc_bound, "\nhttp ", (*admin)->bound_address(), "\n"));
    if (!s.ok()) {
      VALET_LOG(ERROR) << "cannot write --port-file: " << s.message();
      (*admin)->Stop();
      server->Shutdown();
      return 1;
    }
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  VALET_LOG(INFO) << "signal " << signal << ": shutting down";
  (*admin)->Stop();
  // Streams (attach, watch) are cancelled when the deadline passes.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  valet::SetLogProgramName("controlplane");
  absl::SetProgramUsageMessage(
      "valet-controlplane --conf-dir DIR [--grpc-listen HOST:PORT] [--http-listen HOST:PORT] "
      "[--port-file PATH]");
  // Flags are spelled with dashes (--conf-dir); Abseil names them with underscores.
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    if (args[i].rfind("--", 0) != 0) continue;
    for (size_t j = 2; j < args[i].size() && args[i][j] != '='; ++j) {
      if (args[i][j] == '-') args[i][j] = '_';
    }
  }
  std::vector<char*> argv2;
  for (std::string& a : args) argv2.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(argv2.size()), argv2.data());
  return Run();
}
