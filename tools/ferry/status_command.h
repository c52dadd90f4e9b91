// `ferry status ID`: show one transfer.
//
// Purpose: read a transfer back (GetTransfer, retried for a while if the controller is
// unreachable) and show its state, route, options, progress and recent errors, or the
// Transfer as one line of JSON with --json.
//
// Exit status: 0 when the transfer was read, whatever its state (scripts wanting the
// state use --json); 1 when the call failed (NOT_FOUND, PERMISSION_DENIED, ...); 2 on a
// usage error. Thread safety: none needed.
#ifndef FERRY_TOOLS_FERRY_STATUS_COMMAND_H_
#define FERRY_TOOLS_FERRY_STATUS_COMMAND_H_

#include "absl/time/time.h"
#include "tools/ferry/command.h"

namespace ferry::cli {

// How long GetTransfer is retried while the controller is unreachable.
inline constexpr absl::Duration kStatusRetryBudget = absl::Seconds(10);

Command StatusCommand();

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_STATUS_COMMAND_H_
