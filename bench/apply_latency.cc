// valet-bench-apply: time from ApplyApps to every attached data plane ACKing the new version.
//
// For each app count (--apps 1,100,1000) it configures that many apps, then N times changes one app
// and measures ApplyApps + WaitForVersion (the same wait `valetctl apply --wait` uses: a
// server-side wait, no polling). Prints p50, p99 and max per app count. Exits 1 if any data plane
// NACKs or stays silent, so a broken push never reports a fast number.
//
// Data planes: the real ones (started by bench/apply_latency.sh, checked with --dataplanes N), or
// --fake-dataplanes N in-process attach-stream clients that ACK at once (the control plane's share
// of the latency alone).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "valet/v1/attach.grpc.pb.h"
#include "valet/v1/control.grpc.pb.h"
#include "valetctl/ack_wait.h"
#include "valetctl/output.h"

namespace valet::bench {
namespace {

struct Options {
  std::string server = "127.0.0.1:9090";
  std::vector<int> app_counts = {1, 100, 1000};
  int applies = 200;
  int dataplanes = 2;       // Data planes that must be attached before measuring.
  int fake_dataplanes = 0;  // In-process ACKing data planes to attach.
  absl::Duration timeout = absl::Seconds(10);
};

const char kUsage[] =
    "Usage: valet-bench-apply [--server ADDR] [--apps 1,100,1000] [--applies N] [--dataplanes N]\n"
    "                         [--fake-dataplanes N] [--timeout DUR]\n";

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    std::string value = argv[++i];
    bool ok = true;
    if (flag == "--server") {
      o.server = value;
    } else if (flag == "--apps") {
      o.app_counts.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int n = 0;
        ok = ok && absl::SimpleAtoi(part, &n) && n > 0;
        o.app_counts.push_back(n);
      }
    } else if (flag == "--applies") {
      ok = absl::SimpleAtoi(value, &o.applies) && o.applies > 0;
    } else if (flag == "--dataplanes") {
      ok = absl::SimpleAtoi(value, &o.dataplanes) && o.dataplanes >= 0;
    } else if (flag == "--fake-dataplanes") {
      ok = absl::SimpleAtoi(value, &o.fake_dataplanes) && o.fake_dataplanes >= 0;
    } else if (flag == "--timeout") {
      ok = absl::ParseDuration(value, &o.timeout);
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

// An attach-stream client that ACKs every snapshot at once.
class AckingDataplane {
 public:
  AckingDataplane(const std::string& server, const std::string& id) {
    channel_ = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
    stub_ = v1::AttachService::NewStub(channel_);
    stream_ = stub_->Attach(&context_);
    v1::DataPlaneMessage hello;
    hello.mutable_hello()->set_id(id);
    hello.mutable_hello()->set_address("in-process");
    stream_->Write(hello);
    reader_ = std::thread([this] {
      v1::ControlPlaneMessage message;
      while (stream_->Read(&message)) {
        if (!message.has_snapshot()) continue;
        v1::DataPlaneMessage ack;
        ack.mutable_ack()->set_version(message.snapshot().version());
        if (!stream_->Write(ack)) break;
      }
    });
  }
  ~AckingDataplane() {
    context_.TryCancel();
    reader_.join();
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AttachService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::DataPlaneMessage, v1::ControlPlaneMessage>> stream_;
  std::thread reader_;
};

v1::AppConfig BenchApp(int i, const std::string& description) {
  v1::AppConfig app;
  app.set_name(absl::StrCat("bench-", i));
  app.set_description(description);
  v1::Endpoint* ep = app.add_endpoints();
  ep->set_host("127.0.0.1");
  ep->set_port(static_cast<uint32_t>(20000 + i % 10000));
  return app;
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  return context;
}

// Applies `request` and waits for every data plane. Returns false (after printing why) on failure.
bool ApplyAndWait(v1::ControlService::Stub& stub, const v1::ApplyAppsRequest& request,
                  const Options& o, int expected_dataplanes) {
  v1::ApplyAppsResponse applied;
  grpc::Status status = stub.ApplyApps(Context(o.timeout).get(), request, &applied);
  if (!status.ok()) {
    std::cerr << "error: apply: " << status.error_message() << "\n";
    return false;
  }
  v1::WaitForVersionResponse waited;
  status = ctl::WaitForAcks(stub, applied.version(), o.timeout, &waited);
  if (!status.ok()) {
    std::cerr << "error: wait: " << status.error_message() << "\n";
    return false;
  }
  if (!ctl::AllAcked(waited)) {
    for (const std::string& line : ctl::WaitProblems(waited))
      std::cerr << "error: " << line << "\n";
    return false;
  }
  if (waited.acked_size() < expected_dataplanes) {
    std::cerr << "error: version " << applied.version() << " ACKed by " << waited.acked_size()
              << " data planes, expected " << expected_dataplanes << "\n";
    return false;
  }
  return true;
}

double Percentile(std::vector<double> sorted, double p) {
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int Run(const Options& o) {
  auto channel = grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "error: cannot reach the control plane at " << o.server << "\n";
    return 3;
  }
  auto stub = v1::ControlService::NewStub(channel);

  std::vector<std::unique_ptr<AckingDataplane>> fakes;
  for (int i = 0; i < o.fake_dataplanes; ++i) {
    fakes.push_back(std::make_unique<AckingDataplane>(o.server, absl::StrCat("bench-fake-", i)));
  }
  const int expected = o.dataplanes + o.fake_dataplanes;

  // Wait (bounded) until every data plane is attached.
  int attached = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    v1::ListDataPlanesResponse list;
    if (stub->ListDataPlanes(Context(o.timeout).get(), {}, &list).ok()) {
      attached = static_cast<int>(std::count_if(list.dataplanes().begin(), list.dataplanes().end(),
                                                [](const auto& dp) { return dp.connected(); }));
      if (attached >= expected) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (attached < expected) {
    std::cerr << "error: " << attached << " data planes attached, expected " << expected << "\n";
    return 1;
  }

  std::printf("%-8s %-11s %-8s %-9s %-9s %s\n", "APPS", "DATAPLANES", "APPLIES", "P50_MS", "P99_MS",
              "MAX_MS");
  for (int count : o.app_counts) {
    v1::ApplyAppsRequest setup;
    for (int i = 0; i < count; ++i) *setup.add_apps() = BenchApp(i, "bench");
    if (!ApplyAndWait(*stub, setup, o, expected)) return 1;

    std::vector<double> ms;
    for (int n = 0; n < o.applies; ++n) {
      v1::ApplyAppsRequest change;
      *change.add_apps() = BenchApp(n % count, absl::StrCat("bench change ", count, ".", n));
      absl::Time start = absl::Now();
      if (!ApplyAndWait(*stub, change, o, expected)) return 1;
      ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-8d %-11d %-8d %-9.2f %-9.2f %.2f\n", count, expected, o.applies,
                Percentile(ms, 50), Percentile(ms, 99), ms.back());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace valet::bench

int main(int argc, char** argv) {
  valet::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << valet::bench::kUsage;
      return 0;
    }
  }
  if (!valet::bench::ParseArgs(argc, argv, options)) {
    std::cerr << valet::bench::kUsage;
    return 2;
  }
  return valet::bench::Run(options);
}
