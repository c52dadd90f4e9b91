#include "tools/ferry/status_command.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "tools/ferry/retry.h"
#include "tools/ferry/transfer_format.h"

namespace ferry::cli {
namespace {

using ferry::v1::Transfer;

int RunStatus(const ParsedArgs& args, CommandContext& context) {
  if (args.positionals().size() != 1)
    return context.UsageError("needs exactly one transfer ID");
  const std::string& id = args.positionals()[0];
  if (id.empty()) return context.UsageError("the transfer ID is empty");
  absl::StatusOr<ferry::v1::CopyService::StubInterface*> stub = context.Connect();
  if (!stub.ok()) return context.UsageError(stub.status().message());

  RetryOptions retry;
  retry.give_up = context.clock().Now() + kStatusRetryBudget;
  retry.first_call = true;
  ferry::v1::GetTransferRequest request;
  request.set_id(id);
  Transfer transfer;
  const absl::Status status = CallWithRetry(
      context.clock(), retry,
      [&](grpc::ClientContext& c) { return (*stub)->GetTransfer(&c, request, &transfer); });
  if (!status.ok())
    return context.Failure(absl::StrCat("GetTransfer ", id, ": ", status.ToString()));

  if (!args.Bool("json")) {
    context.out() << FormatStatusBlock(transfer);
    return kExitOk;
  }
  absl::StatusOr<std::string> json = TransferToJson(transfer);
  if (!json.ok()) return context.Failure(json.status().ToString());
  context.out() << *json << "\n";
  return kExitOk;
}

}  // namespace

Command StatusCommand() {
  Command command;
  command.name = "status";
  command.synopsis = "[--json] ID";
  command.summary = "Show the state, progress and errors of a transfer";
  command.details =
      "Reads transfer ID (as printed by 'ferry cp', e.g. t-0000000000000042) from the\n"
      "controller and shows its state, route, options, progress and recent errors.\n"
      "\n"
      "Exit status: 0 if the transfer was read, whatever its state; 1 if the call\n"
      "failed (e.g. NOT_FOUND); 2 if the command line is wrong.";
  command.examples =
      "  ferry status t-0000000000000042\n"
      "  ferry status --json t-0000000000000042\n";
  command.flags = {
      {"json", '\0', "", false, {}, "Print the transfer as one line of JSON"},
  };
  command.run = RunStatus;
  return command;
}

}  // namespace ferry::cli
