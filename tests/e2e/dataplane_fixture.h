// A running valet-dataplane (the real binary, standalone from a temp conf dir) with real test
// backends, for the data plane's end-to-end tests.
#ifndef VALET_TESTS_E2E_DATAPLANE_FIXTURE_H_
#define VALET_TESTS_E2E_DATAPLANE_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "tests/support/binaries.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_backend.h"

namespace valet::testing {

// The JSON of an app whose endpoints are 127.0.0.1:PORT each; `extra` is spliced into the object
// (e.g. R"("requestTimeoutMs": 200,)").
inline std::string AppJson(const std::string& name, const std::vector<int>& ports,
                           const std::string& extra = "", const std::string& path = "") {
  std::vector<std::string> endpoints;
  for (int port : ports) {
    endpoints.push_back(
        absl::StrCat(R"({"host": "127.0.0.1", "path": ")", path, R"(", "port": )", port, "}"));
  }
  return absl::StrCat(R"({"name": ")", name, R"(", "description": "test app", )", extra,
                      R"( "endpoints": [)", absl::StrJoin(endpoints, ", "), "]}\n");
}

class DataplaneTest : public ::testing::Test {
 protected:
  // Writes conf/NAME.json.
  void WriteApp(const std::string& name, const std::string& json) {
    dir_.WriteFile("conf/" + name + ".json", json);
  }

  // Starts the data plane on the conf dir; fails the test if it does not come up.
  void StartDataplane(std::vector<std::string> extra_args = {}) {
    absl::StatusOr<std::string> bin = DataplaneBinary();
    ASSERT_TRUE(bin.ok()) << bin.status();
    std::vector<std::string> args = {
        "--conf-dir",  dir_.Join("conf"), "--listen",         "127.0.0.1:0", "--admin-listen",
        "127.0.0.1:0", "--port-file",     dir_.Join("ports"), "--workers",   "2"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto process = Process::Start(*bin, args);
    ASSERT_TRUE(process.ok()) << process.status();
    dataplane_ = std::move(*process);
    auto ports = WaitForPortFile(dir_.Join("ports"), absl::Seconds(20));
    ASSERT_TRUE(ports.ok()) << ports.status() << "\n" << dataplane_->Log();
    listen_ = (*ports)["listen"];
    admin_ = (*ports)["admin"];
    if (ports->count("tls") > 0) tls_listen_ = (*ports)["tls"];
  }

  std::unique_ptr<TestBackend> StartBackend(const std::string& name, Handler handler = nullptr,
                                            int port = 0) {
    TestBackend::Options options;
    options.name = name;
    options.handler = std::move(handler);
    options.port = port;
    auto backend = TestBackend::Start(options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  HttpClient Client(absl::Duration timeout = absl::Seconds(10)) {
    return HttpClient(listen_, timeout);
  }

  // GET on the admin listener.
  absl::StatusOr<HttpResponse> Admin(const std::string& path) {
    HttpClient admin(admin_);
    return admin.Get(path);
  }

  // The value of the sample `series` (e.g. `valet_requests_total{app="a",class="2xx"}`), or -1.
  double Metric(const std::string& series) {
    auto res = Admin("/metrics");
    if (!res.ok()) return -1;
    std::string text = "\n" + res->body;
    size_t pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::strtod(text.c_str() + pos + series.size() + 2, nullptr);
  }

  // Waits until Metric(series) == value: a request's counters are recorded when the gateway is
  // done with it, which can be just after the client has read the answer. On failure, says what
  // the series last was.
  ::testing::AssertionResult WaitForMetric(const std::string& series, double value,
                                           absl::Duration timeout = absl::Seconds(10)) {
    double last = -1;
    if (WaitFor(
            [&] {
              last = Metric(series);
              return last == value;
            },
            timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << series << " is " << last << ", not " << value;
  }

  TempDir dir_;
  std::unique_ptr<Process> dataplane_;
  std::string listen_;
  std::string admin_;
  std::string tls_listen_;  // With --tls-listen.
};

// The "error" object of a gateway-made answer must carry this status and code.
#define EXPECT_GATEWAY_ERROR(response, http_status, error_code)                       \
  do {                                                                                \
    EXPECT_EQ((response).status, http_status) << (response).body;                     \
    EXPECT_EQ((response).Header("Content-Type"), "application/json");                 \
    EXPECT_NE((response).body.find("\"status\":" #http_status), std::string::npos)    \
        << (response).body;                                                           \
    EXPECT_NE((response).body.find("\"code\":\"" error_code "\""), std::string::npos) \
        << (response).body;                                                           \
  } while (0)

}  // namespace valet::testing

#endif  // VALET_TESTS_E2E_DATAPLANE_FIXTURE_H_
