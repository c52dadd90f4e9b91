// `ferry cp`: copy SRC to one or more DSTs and wait for the result.
//
// Purpose: the scp-like entry point. It validates the command line without contacting
// anyone (usage errors exit 2), creates the transfer with retries that reuse one
// request_id (so a lost reply never starts a second copy), then follows the transfer to
// its end and prints exactly one result line (or the Transfer as JSON).
//
// Thread safety: none needed (one run per process). Failure: exit codes of command.h;
// messages on stderr name the gRPC code of a failed call.
#ifndef FERRY_TOOLS_FERRY_CP_COMMAND_H_
#define FERRY_TOOLS_FERRY_CP_COMMAND_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/copy_service.pb.h"
#include "tools/ferry/command.h"
#include "tools/ferry/flag_parser.h"

namespace ferry::cli {

// How long CreateTransfer is retried while the controller is unreachable, unless
// --timeout ends it sooner.
inline constexpr absl::Duration kCreateRetryBudget = absl::Seconds(60);

// What a `ferry cp` command line asks for.
struct CpPlan {
  ferry::v1::CreateTransferRequest request;  // request_id filled (given or random).
  bool wait = true;
  bool json = false;
  absl::Duration timeout = absl::InfiniteDuration();
};

// The cp command line (flags parsed with CpCommand().flags) as a plan; INVALID_ARGUMENT
// with a message for the user when it is malformed.
absl::StatusOr<CpPlan> PlanCp(const ParsedArgs& args);

Command CpCommand();

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_CP_COMMAND_H_
