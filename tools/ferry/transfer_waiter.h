// Waiting for a transfer to reach a terminal state.
//
// Purpose: `ferry cp` (and later `ferry watch`) must follow a transfer to its end through
// controller restarts and network hiccups. The waiter reads the WatchTransfer stream; when
// the stream breaks (UNAVAILABLE, DEADLINE_EXCEEDED before our own deadline, or an early
// end without a terminal state) it re-watches after a backoff. If the controller does not
// implement WatchTransfer (UNIMPLEMENTED) it polls GetTransfer instead. Every snapshot seen
// goes to `on_update` (for the progress line).
//
// Ownership: borrows the stub and clock for the duration of the call. Thread safety: a
// Wait call is single-threaded; concurrent calls on one stub are fine (gRPC stubs are
// thread-safe). Failure: DEADLINE_EXCEEDED when `deadline` passes first (the transfer
// itself goes on); any non-retryable RPC status as returned (NOT_FOUND, PERMISSION_DENIED,
// ...).
#ifndef FERRY_TOOLS_FERRY_TRANSFER_WAITER_H_
#define FERRY_TOOLS_FERRY_TRANSFER_WAITER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/copy_service.grpc.pb.h"
#include "tools/ferry/retry.h"

namespace ferry::cli {

struct WaitOptions {
  // Give up (DEADLINE_EXCEEDED) at this time.
  absl::Time deadline = absl::InfiniteFuture();
  // Asked of the server: minimum time between progress events.
  int32_t watch_interval_ms = 1000;
  // Time between GetTransfer calls when polling.
  absl::Duration poll_interval = absl::Seconds(1);
  // Deadline of each GetTransfer call.
  absl::Duration call_timeout = absl::Seconds(30);
  // Delays after a broken stream or a failed poll.
  BackoffPolicy backoff;
};

using TransferCallback = std::function<void(const ferry::v1::Transfer&)>;

// Blocks until transfer `id` is SUCCEEDED, FAILED or CANCELLED and returns it as of then.
absl::StatusOr<ferry::v1::Transfer> WaitForTerminalState(
    ferry::v1::CopyService::StubInterface& stub, const Clock& clock, const std::string& id,
    const WaitOptions& options, const TransferCallback& on_update);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_TRANSFER_WAITER_H_
