// The command table of valetctl: one function per command (or group), each defined in the file
// named after it. cli.cc's AllCommands() lists them in help order.
#ifndef VALET_VALETCTL_COMMANDS_H_
#define VALET_VALETCTL_COMMANDS_H_

#include <vector>

#include "valetctl/cli.h"

namespace valet::ctl {

std::vector<CommandSpec> AppsCommands();  // apps_commands.cc: apps list, apps get.
CommandSpec ApplyCommand();               // apply_command.cc
CommandSpec DeleteCommand();              // delete_command.cc
CommandSpec ReloadCommand();              // reload_command.cc
CommandSpec ValidateCommand();            // validate_command.cc (offline)
CommandSpec DataplanesCommand();          // dataplanes_command.cc
CommandSpec LimitsCommand();              // limits_command.cc
CommandSpec VersionCommand();             // version_command.cc
CommandSpec WatchCommand();               // watch_command.cc
std::vector<CommandSpec> MockCommands();  // mock_commands.cc: mock on, mock off, mock list.

}  // namespace valet::ctl

#endif  // VALET_VALETCTL_COMMANDS_H_
