#include "tools/ferry/transfer_waiter.h"

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "tools/ferry/transfer_format.h"

namespace ferry::cli {
namespace {

using ferry::v1::Transfer;

// One wait; a class only to share the stub, clock and options between small steps.
class Waiter {
 public:
  Waiter(ferry::v1::CopyService::StubInterface& stub, const Clock& clock,
         const std::string& id, const WaitOptions& options, const TransferCallback& on_update)
      : stub_(stub),
        clock_(clock),
        id_(id),
        options_(options),
        on_update_(on_update),
        backoff_(options.backoff) {}

  absl::StatusOr<Transfer> Run() {
    while (true) {
      const grpc::Status status = use_watch_ ? WatchOnce() : PollOnce();
      if (finished_) return last_;
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED && use_watch_) {
        use_watch_ = false;  // An older controller: poll from now on.
        continue;
      }
      if (!status.ok() && !IsTransientRpcFailure(status)) return FromGrpcStatus(status);
      const absl::Duration pause = status.ok() ? options_.poll_interval : backoff_.NextDelay();
      SleepUntilAtMost(clock_, pause, options_.deadline);
      if (clock_.Now() >= options_.deadline) return TimedOut(status);
    }
  }

 private:
  // Reads one WatchTransfer stream to its end. OK if it ended cleanly (with or without a
  // terminal state: `finished_` says which).
  grpc::Status WatchOnce() {
    grpc::ClientContext context;
    SetDeadline(context, options_.deadline);
    ferry::v1::WatchTransferRequest request;
    request.set_id(id_);
    request.set_min_interval_ms(options_.watch_interval_ms);
    std::unique_ptr<grpc::ClientReaderInterface<ferry::v1::TransferEvent>> stream =
        stub_.WatchTransfer(&context, request);
    ferry::v1::TransferEvent event;
    while (!finished_ && stream->Read(&event)) {
      backoff_.Reset();
      Record(event.transfer());
    }
    if (finished_) context.TryCancel();  // Do not wait for the server to close.
    const grpc::Status status = stream->Finish();
    if (finished_ || !status.ok()) return status;
    // Ended without a terminal state: treat as a broken stream and watch again.
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "watch stream ended early");
  }

  // One GetTransfer call.
  grpc::Status PollOnce() {
    grpc::ClientContext context;
    SetDeadline(context, std::min(clock_.Now() + options_.call_timeout, options_.deadline));
    ferry::v1::GetTransferRequest request;
    request.set_id(id_);
    Transfer transfer;
    const grpc::Status status = stub_.GetTransfer(&context, request, &transfer);
    if (status.ok()) {
      backoff_.Reset();
      Record(transfer);
    }
    return status;
  }

  void Record(const Transfer& transfer) {
    last_ = transfer;
    finished_ = IsTerminal(transfer.state());
    if (on_update_) on_update_(transfer);
  }

  absl::Status TimedOut(const grpc::Status& last_status) const {
    std::string message = "timed out before the transfer ended";
    if (!last_status.ok()) {
      absl::StrAppend(&message, "; last error: ", FromGrpcStatus(last_status).ToString());
    }
    return absl::DeadlineExceededError(message);
  }

  ferry::v1::CopyService::StubInterface& stub_;
  const Clock& clock_;
  const std::string& id_;
  const WaitOptions& options_;
  const TransferCallback& on_update_;
  Backoff backoff_;
  bool use_watch_ = true;
  bool finished_ = false;
  Transfer last_;
};

}  // namespace

absl::StatusOr<Transfer> WaitForTerminalState(ferry::v1::CopyService::StubInterface& stub,
                                              const Clock& clock, const std::string& id,
                                              const WaitOptions& options,
                                              const TransferCallback& on_update) {
  return Waiter(stub, clock, id, options, on_update).Run();
}

}  // namespace ferry::cli
