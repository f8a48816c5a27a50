// What a command handler gets besides its parsed arguments: where to print, and a way to reach the
// control plane. Lives for one command; single-threaded.
#ifndef VALET_VALETCTL_COMMAND_ENV_H_
#define VALET_VALETCTL_COMMAND_ENV_H_

#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "valetctl/cli.h"
#include "valetctl/control_connection.h"
#include "valetctl/output.h"

namespace valet::ctl {

class CommandEnv {
 public:
  CommandEnv(const GlobalOptions& global, ConnectionSecurity security, std::ostream& out,
             std::ostream& err)
      : global_(global), security_(std::move(security)), out_(out), err_(err) {}

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const GlobalOptions& global() const { return global_; }

  // Prints the answer: its JSON mapping with -o json, else `table` (already rendered).
  void Print(const google::protobuf::Message& answer, const std::string& table) {
    out_ << (global_.output == OutputFormat::kJson ? ToJson(answer) : table);
  }

  // The connection to --server, created on first use (offline commands never create one).
  ControlConnection& connection() {
    if (connection_ == nullptr) {
      connection_ = std::make_unique<ControlConnection>(global_.server, global_.timeout, security_);
    }
    return *connection_;
  }

 private:
  GlobalOptions global_;
  ConnectionSecurity security_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<ControlConnection> connection_;
};

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_COMMAND_ENV_H_
