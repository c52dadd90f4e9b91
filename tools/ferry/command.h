// What a ferry subcommand is, and what it gets to run with.
//
// Purpose: the dispatch table. Each subcommand (cp, status; later ls, cancel, watch and
// the admin verbs) is one Command value: its name, its help, its flag table and a
// function. The Cli (cli.h) parses the flags with the table, answers --help from it, and
// calls the function with a CommandContext. Adding a subcommand means writing one
// `Command XCommand()` factory and listing it in Cli's table; nothing else changes.
//
// Exit codes are the contract with scripts: kExitOk only on success, kExitFailure when
// the work failed (transfer FAILED/CANCELLED, an RPC error), kExitUsage when the command
// line was wrong (nothing was sent to the server).
//
// Ownership: a CommandContext borrows everything it points to; all of it outlives the
// command's run. Thread safety: a context is used by one thread.
#ifndef FERRY_TOOLS_FERRY_COMMAND_H_
#define FERRY_TOOLS_FERRY_COMMAND_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/copy_service.grpc.pb.h"
#include "tools/ferry/flag_parser.h"
#include "tools/ferry/retry.h"

namespace ferry::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

class CommandContext {
 public:
  using Connector = std::function<absl::StatusOr<ferry::v1::CopyService::StubInterface*>()>;

  // `connect` resolves the controller and returns a stub owned elsewhere; it fails with
  // INVALID_ARGUMENT when no controller was named.
  CommandContext(std::string command_name, std::ostream& out, std::ostream& err,
                 const Clock& clock, bool err_is_terminal, size_t terminal_width,
                 Connector connect)
      : command_name_(std::move(command_name)),
        out_(out),
        err_(err),
        clock_(clock),
        err_is_terminal_(err_is_terminal),
        terminal_width_(terminal_width),
        connect_(std::move(connect)) {}

  std::ostream& out() { return out_; }  // Results: one line, or JSON.
  std::ostream& err() { return err_; }  // Diagnostics and the progress line.
  const Clock& clock() { return clock_; }
  bool err_is_terminal() const { return err_is_terminal_; }
  size_t terminal_width() const { return terminal_width_; }

  // The controller's stub. Call it only after the arguments are validated, so that a
  // usage error is reported as such even when no controller is configured.
  absl::StatusOr<ferry::v1::CopyService::StubInterface*> Connect() { return connect_(); }

  // Prints "ferry CMD: MESSAGE" and a pointer to the help on stderr; returns kExitUsage.
  int UsageError(absl::string_view message);
  // Prints "ferry CMD: MESSAGE" on stderr; returns kExitFailure.
  int Failure(absl::string_view message);

 private:
  const std::string command_name_;
  std::ostream& out_;
  std::ostream& err_;
  const Clock& clock_;
  const bool err_is_terminal_;
  const size_t terminal_width_;
  Connector connect_;
};

struct Command {
  std::string name;             // "cp"
  std::string synopsis;         // "[flags] SRC DST [DST...]"
  std::string summary;          // One line for the command list.
  std::string details;          // Paragraphs shown by --help after the usage line.
  std::string examples;         // Lines shown under "Examples:".
  std::vector<FlagSpec> flags;  // Without -h/--help and the global flags: Cli adds them.
  std::function<int(const ParsedArgs& args, CommandContext& context)> run;
};

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_COMMAND_H_
