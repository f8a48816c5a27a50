// valetctl: the operator's command line for a Valet control plane. See docs/valetctl.md.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "valetctl/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_server = std::getenv(std::string(valet::ctl::kServerEnvVar).c_str());
  return valet::ctl::RunValetctl(args, env_server != nullptr ? env_server : "", std::cout,
                                 std::cerr);
}
