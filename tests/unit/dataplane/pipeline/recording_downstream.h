// A Downstream with no connection behind it that records how each exchange ended, for tests of
// stages, handlers and the pipeline runner.
#ifndef VALET_TESTS_UNIT_DATAPLANE_PIPELINE_RECORDING_DOWNSTREAM_H_
#define VALET_TESTS_UNIT_DATAPLANE_PIPELINE_RECORDING_DOWNSTREAM_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/pipeline/downstream.h"

namespace valet::testing {

// Records how the exchange ended; no connection behind it.
class RecordingDownstream : public Downstream {
 public:
  Worker& worker() override { std::abort(); }
  MaybeTlsStream& stream() override { std::abort(); }
  boost::beast::flat_buffer& buffer() override { return buffer_; }
  const std::string& ClientIp() const override { return ip_; }
  char* RelayBuffer() override { return nullptr; }
  std::string& RequestHeadBuffer() override { return head_; }
  std::string& ResponseHeadBuffer() override { return head_; }
  std::shared_ptr<void> Hold() override { return nullptr; }
  bool closed() const override { return closed_; }
  void Fail(const GatewayError& error) override {
    ended.push_back("fail:" + std::string(error.code));
  }
  void Respond(boost::beast::http::response<boost::beast::http::string_body> answer) override {
    ended.push_back("respond:" + std::to_string(answer.result_int()));
  }
  void Finished(int status) override { ended.push_back("finished:" + std::to_string(status)); }
  void Abort(int status) override { ended.push_back("abort:" + std::to_string(status)); }
  void Tunnel(std::unique_ptr<UpstreamConnection>) override { ended.push_back("tunnel"); }

  std::vector<std::string> ended;
  bool closed_ = false;

 private:
  boost::beast::flat_buffer buffer_;
  std::string ip_ = "127.0.0.1";
  std::string head_;
};

}  // namespace valet::testing

#endif  // VALET_TESTS_UNIT_DATAPLANE_PIPELINE_RECORDING_DOWNSTREAM_H_
