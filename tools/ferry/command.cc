#include "tools/ferry/command.h"

namespace ferry::cli {

int CommandContext::UsageError(absl::string_view message) {
  err_ << "ferry " << command_name_ << ": " << message << "\n"
       << "Run 'ferry " << command_name_ << " --help' for usage.\n";
  return kExitUsage;
}

int CommandContext::Failure(absl::string_view message) {
  err_ << "ferry " << command_name_ << ": " << message << "\n";
  return kExitFailure;
}

}  // namespace ferry::cli
