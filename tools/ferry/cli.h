// The ferry command line: global flags, help, and dispatch to subcommands.
//
// Purpose: turns `ferry [global flags] COMMAND [flags] [args]` into one Command run (see
// command.h) and an exit code. It owns the table of subcommands and everything common to
// them: -h/--help, `ferry help COMMAND`, the --controller flag (accepted before or after
// the command name) with FERRY_CONTROLLER as fallback, the certificate flags (--tls_ca,
// --tls_cert, --tls_key, --insecure_plaintext_unsafe; same places) with FERRY_TLS_DIR as
// fallback (auth/credentials_flags.h), and usage errors (exit 2).
//
// Everything it touches comes in through CliEnvironment, so tests run it against a
// gMock stub, string streams and a fake clock.
//
// Ownership: borrows what CliEnvironment points to; it must outlive Run. Thread safety:
// one Run at a time. Failure: only through exit codes and messages on `err`.
#ifndef FERRY_TOOLS_FERRY_CLI_H_
#define FERRY_TOOLS_FERRY_CLI_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/tls.h"
#include "proto/copy_service.grpc.pb.h"
#include "tools/ferry/command.h"
#include "tools/ferry/flag_parser.h"
#include "tools/ferry/retry.h"

namespace ferry::cli {

struct CliEnvironment {
  std::ostream* out = nullptr;  // Results (stdout).
  std::ostream* err = nullptr;  // Diagnostics and progress (stderr).
  const Clock* clock = nullptr;
  bool err_is_terminal = false;  // Draw the progress line on `err`.
  size_t terminal_width = 80;
  std::string controller_from_env;  // FERRY_CONTROLLER; empty when unset.
  std::string tls_dir_from_env;     // FERRY_TLS_DIR; empty when unset.
  // The stub for a controller address over a channel secured by `tls` (see channel.h);
  // called at most once per Run, only by commands that talk to a controller. Fails when
  // the credentials cannot be made (the message names the flag). The stub is owned by
  // the callee and outlives Run.
  std::function<absl::StatusOr<ferry::v1::CopyService::StubInterface*>(
      const std::string& address, const auth::TlsConfig& tls)>
      connect;
};

class Cli {
 public:
  explicit Cli(CliEnvironment environment);

  // `args` are the words after the program name. Returns the process exit code.
  int Run(const std::vector<std::string>& args);

  // The top-level help text (`ferry --help`).
  std::string Help() const;
  // A command's help text (`ferry cp --help`).
  static std::string CommandHelp(const Command& command);

 private:
  const Command* Find(absl::string_view name) const;
  int RunHelp(const std::vector<std::string>& topics);
  int RunCommand(const Command& command, const std::vector<std::string>& args,
                 const ParsedArgs& global);
  int TopLevelUsageError(absl::string_view message);

  CliEnvironment environment_;
  std::vector<Command> commands_;
};

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_CLI_H_
