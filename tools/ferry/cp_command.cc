#include "tools/ferry/cp_command.h"

#include <algorithm>
#include <bitset>
#include <string>
#include <utility>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tools/ferry/location.h"
#include "tools/ferry/progress_display.h"
#include "tools/ferry/retry.h"
#include "tools/ferry/transfer_format.h"
#include "tools/ferry/transfer_waiter.h"

namespace ferry::cli {
namespace {

using ferry::v1::CreateTransferRequest;
using ferry::v1::PreserveFlags;
using ferry::v1::Transfer;

constexpr int kMaxDestinations = 16;
constexpr int kMaxLabels = 16;
constexpr size_t kMaxLabelKeyBytes = 63;
constexpr size_t kMaxLabelValueBytes = 256;
constexpr size_t kMaxRequestIdBytes = 128;
// Progress events: often enough for a live line on a terminal, less often otherwise.
// Not longer: the skeleton controller notices state changes only at this interval.
constexpr int kTerminalWatchIntervalMs = 500;
constexpr int kQuietWatchIntervalMs = 1000;

absl::Status Usage(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::string RandomRequestId() {
  absl::BitGen random;
  return absl::StrFormat("cli-%016x%016x", absl::Uniform<uint64_t>(random),
                         absl::Uniform<uint64_t>(random));
}

absl::Status CheckRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) {
    return Usage("--request_id must be 1-128 characters long");
  }
  for (char c : id) {
    if (!absl::ascii_isprint(c)) return Usage("--request_id must be printable ASCII");
  }
  return absl::OkStatus();
}

bool IsLabelKeyChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.' || c == '-';
}

absl::Status AddLabel(absl::string_view text, CreateTransferRequest& request) {
  const size_t equals = text.find('=');
  if (equals == absl::string_view::npos) {
    return Usage(absl::StrCat("--label ", QuoteForMessage(text), ": write it as KEY=VALUE"));
  }
  const absl::string_view key = text.substr(0, equals);
  const absl::string_view value = text.substr(equals + 1);
  if (key.empty() || key.size() > kMaxLabelKeyBytes ||
      !std::all_of(key.begin(), key.end(), IsLabelKeyChar)) {
    return Usage(absl::StrCat("--label key ", QuoteForMessage(key),
                              ": use 1-63 characters of a-z, 0-9, '_', '.' and '-'"));
  }
  if (value.size() > kMaxLabelValueBytes) {
    return Usage(
        absl::StrCat("--label ", QuoteForMessage(key), ": value longer than 256 bytes"));
  }
  if (!request.mutable_labels()->insert({std::string(key), std::string(value)}).second) {
    return Usage(absl::StrCat("--label ", QuoteForMessage(key), " given twice"));
  }
  return absl::OkStatus();
}

absl::Status AddLabels(const ParsedArgs& args, CreateTransferRequest& request) {
  const std::vector<std::string> labels = args.Values("label");
  if (labels.size() > kMaxLabels) return Usage("at most 16 --label flags");
  for (const std::string& label : labels) {
    if (absl::Status status = AddLabel(label, request); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status SetLocations(const std::vector<std::string>& positionals,
                          CreateTransferRequest& request) {
  if (positionals.size() < 2) return Usage("needs a source and at least one destination");
  if (positionals.size() - 1 > kMaxDestinations) return Usage("at most 16 destinations");
  absl::StatusOr<ferry::v1::Location> source = ParseLocation(positionals[0]);
  if (!source.ok()) return Usage(absl::StrCat("source ", source.status().message()));
  *request.mutable_source() = *std::move(source);
  for (size_t i = 1; i < positionals.size(); ++i) {
    absl::StatusOr<ferry::v1::Location> destination = ParseLocation(positionals[i]);
    if (!destination.ok()) {
      return Usage(absl::StrCat("destination ", destination.status().message()));
    }
    *request.add_destinations() = *std::move(destination);
  }
  return absl::OkStatus();
}

// The attributes --preserve and --no-preserve name, spelled as `ferry status` prints them;
// the table is indexed by PreserveBit.
enum PreserveBit : size_t { kMode, kMtime, kOwner, kHardLinks, kPreserveBitCount };
struct PreserveAttribute {
  absl::string_view name;
  void (PreserveFlags::*set)(bool);
};
constexpr PreserveAttribute kPreserveAttributes[kPreserveBitCount] = {
    {"mode", &PreserveFlags::set_mode},
    {"mtime", &PreserveFlags::set_mtime},
    {"owner", &PreserveFlags::set_owner},
    {"hard-links", &PreserveFlags::set_hard_links},
};
constexpr absl::string_view kPreserveAll = "all";
constexpr absl::string_view kPreserveChoices = "mode, mtime, owner, hard-links, all";
using PreserveSet = std::bitset<kPreserveBitCount>;

// What cp has always preserved.
PreserveSet DefaultPreserved() { return PreserveSet().set(kMode).set(kMtime); }

// What one of --preserve / --no-preserve names over all its occurrences. `all` is kept
// apart so that a name on the other flag can override it.
struct PreserveWords {
  bool all = false;
  PreserveSet named;
};

absl::StatusOr<size_t> PreserveAttributeIndex(absl::string_view flag, absl::string_view word) {
  const std::string spelled = absl::StrReplaceAll(word, {{"_", "-"}});
  for (size_t i = 0; i < kPreserveBitCount; ++i) {
    if (kPreserveAttributes[i].name == spelled) return i;
  }
  return Usage(absl::StrCat("--", flag, ": unknown attribute ", QuoteForMessage(word),
                            "; use a comma-separated list of ", kPreserveChoices));
}

absl::StatusOr<PreserveWords> ParsePreserveWords(const ParsedArgs& args,
                                                 absl::string_view flag) {
  PreserveWords words;
  for (const std::string& list : args.Values(flag)) {
    for (absl::string_view word : absl::StrSplit(list, ',')) {
      if (word == kPreserveAll) {
        words.all = true;
        continue;
      }
      absl::StatusOr<size_t> index = PreserveAttributeIndex(flag, word);
      if (!index.ok()) return index.status();
      words.named.set(*index);
    }
  }
  return words;
}

// Defaults, then `all` of either flag, then single names; contradictions are errors, so
// the result never depends on the order of the flags.
absl::StatusOr<PreserveSet> CombinePreserve(const PreserveWords& keep,
                                            const PreserveWords& drop) {
  if (keep.all && drop.all) return Usage("--preserve=all and --no-preserve=all contradict");
  const PreserveSet both = keep.named & drop.named;
  for (size_t i = 0; i < kPreserveBitCount; ++i) {
    if (both.test(i)) {
      return Usage(absl::StrCat(kPreserveAttributes[i].name,
                                " is named by both --preserve and --no-preserve"));
    }
  }
  PreserveSet preserved = DefaultPreserved();
  if (keep.all) preserved.set();
  if (drop.all) preserved.reset();
  return (preserved | keep.named) & ~drop.named;
}

absl::Status SetPreserve(const ParsedArgs& args, CreateTransferRequest& request) {
  absl::StatusOr<PreserveWords> keep = ParsePreserveWords(args, "preserve");
  if (!keep.ok()) return keep.status();
  if (args.Bool("hard-links")) keep->named.set(kHardLinks);
  absl::StatusOr<PreserveWords> drop = ParsePreserveWords(args, "no-preserve");
  if (!drop.ok()) return drop.status();
  absl::StatusOr<PreserveSet> preserved = CombinePreserve(*keep, *drop);
  if (!preserved.ok()) return preserved.status();
  for (size_t i = 0; i < kPreserveBitCount; ++i) {
    (request.mutable_preserve()->*kPreserveAttributes[i].set)(preserved->test(i));
  }
  return absl::OkStatus();
}

// Enum flags were checked against their choices by the parser, so parsing cannot fail.
void SetEnums(const ParsedArgs& args, CreateTransferRequest& request) {
  ferry::v1::OverwritePolicy overwrite = ferry::v1::OVERWRITE_POLICY_NEVER;
  ferry::v1::OverwritePolicy_Parse(
      EnumValueName(args.Value("overwrite").value_or("never"), "OVERWRITE_POLICY_"),
      &overwrite);
  request.set_overwrite(overwrite);
  ferry::v1::PriorityClass priority = ferry::v1::PRIORITY_CLASS_BATCH;
  ferry::v1::PriorityClass_Parse(
      EnumValueName(args.Value("priority").value_or("batch"), "PRIORITY_CLASS_"), &priority);
  request.set_priority(priority);
}

absl::StatusOr<absl::Duration> ParseTimeout(const ParsedArgs& args) {
  const std::optional<std::string> text = args.Value("timeout");
  if (!text) return absl::InfiniteDuration();
  absl::Duration timeout;
  if (!absl::ParseDuration(*text, &timeout) || timeout <= absl::ZeroDuration()) {
    return Usage(absl::StrCat("--timeout ", QuoteForMessage(*text),
                              ": write a positive duration such as 90s, 30m or 2h"));
  }
  return timeout;
}

absl::StatusOr<Transfer> CreateWithRetry(ferry::v1::CopyService::StubInterface& stub,
                                         const Clock& clock,
                                         const CreateTransferRequest& request,
                                         absl::Time deadline) {
  RetryOptions retry;
  retry.give_up = std::min(deadline, clock.Now() + kCreateRetryBudget);
  retry.first_call = true;
  Transfer transfer;
  absl::Status status = CallWithRetry(clock, retry, [&](grpc::ClientContext& context) {
    return stub.CreateTransfer(&context, request, &transfer);
  });
  if (!status.ok()) return status;
  return transfer;
}

absl::StatusOr<Transfer> Wait(ferry::v1::CopyService::StubInterface& stub,
                              CommandContext& context, const std::string& id,
                              absl::Time deadline) {
  ProgressDisplay display(context.err(), context.err_is_terminal(), context.terminal_width());
  WaitOptions options;
  options.deadline = deadline;
  options.watch_interval_ms =
      context.err_is_terminal() ? kTerminalWatchIntervalMs : kQuietWatchIntervalMs;
  return WaitForTerminalState(stub, context.clock(), id, options,
                              [&display](const Transfer& t) { display.Show(t); });
}

int PrintResult(const Transfer& transfer, const CpPlan& plan, absl::Duration elapsed,
                CommandContext& context) {
  if (plan.json) {
    absl::StatusOr<std::string> json = TransferToJson(transfer);
    if (!json.ok()) return context.Failure(json.status().ToString());
    context.out() << *json << "\n";
  } else {
    context.out() << FormatResultLine(transfer, elapsed) << "\n";
  }
  const bool accepted = !plan.wait && !IsTerminal(transfer.state());
  return transfer.state() == ferry::v1::TRANSFER_STATE_SUCCEEDED || accepted ? kExitOk
                                                                             : kExitFailure;
}

int RunCp(const ParsedArgs& args, CommandContext& context) {
  absl::StatusOr<CpPlan> plan = PlanCp(args);
  if (!plan.ok()) return context.UsageError(plan.status().message());
  absl::StatusOr<ferry::v1::CopyService::StubInterface*> stub = context.Connect();
  if (!stub.ok()) return context.UsageError(stub.status().message());

  const absl::Time start = context.clock().Now();
  const absl::Time deadline = start + plan->timeout;  // Infinite stays infinite.
  absl::StatusOr<Transfer> transfer =
      CreateWithRetry(**stub, context.clock(), plan->request, deadline);
  if (!transfer.ok()) {
    return context.Failure(
        absl::StrCat("CreateTransfer failed: ", transfer.status().ToString(), "; request_id ",
                     plan->request.request_id()));
  }
  if (plan->wait && !IsTerminal(transfer->state())) {
    const std::string id = transfer->id();
    transfer = Wait(**stub, context, id, deadline);
    if (!transfer.ok()) {
      return context.Failure(absl::StrCat("waiting for ", id, ": ",
                                          transfer.status().ToString(),
                                          "; the transfer goes on: ferry status ", id));
    }
  }
  return PrintResult(*transfer, *plan, context.clock().Now() - start, context);
}

}  // namespace

absl::StatusOr<CpPlan> PlanCp(const ParsedArgs& args) {
  CpPlan plan;
  CreateTransferRequest& request = plan.request;
  // Before the locations: a bare `--preserve` (as GNU cp allows) takes the source as its
  // LIST, and the message should say so rather than that a location is missing.
  if (absl::Status status = SetPreserve(args, request); !status.ok()) return status;
  if (absl::Status status = SetLocations(args.positionals(), request); !status.ok()) {
    return status;
  }
  request.set_request_id(args.Value("request_id").value_or(RandomRequestId()));
  if (absl::Status status = CheckRequestId(request.request_id()); !status.ok()) return status;
  if (absl::Status status = AddLabels(args, request); !status.ok()) return status;
  absl::StatusOr<absl::Duration> timeout = ParseTimeout(args);
  if (!timeout.ok()) return timeout.status();
  plan.timeout = *timeout;
  SetEnums(args, request);
  request.set_recursive(args.Bool("recursive"));
  request.set_dry_run(args.Bool("dry-run"));
  plan.wait = !args.Bool("no-wait");
  plan.json = args.Bool("json");
  return plan;
}

Command CpCommand() {
  Command command;
  command.name = "cp";
  command.synopsis = "[flags] SRC DST [DST...]";
  command.summary = "Copy a file or a directory tree to one or more destinations";
  command.details =
      "Copies SRC to every DST through the controller, waits until the transfer\n"
      "ends and prints one result line. A directory needs -r; each DST then names\n"
      "the directory that receives SRC's contents (parents are created).\n"
      "\n"
      "Mode and mtime are preserved by default. --preserve adds owners (uid and\n"
      "gid; applied only by a copyd running as root) and hard links (files of SRC\n"
      "that share an inode share one in each DST). A name beats 'all' of the\n"
      "other flag: --no-preserve=all --preserve=mode keeps only the mode. Naming\n"
      "one attribute in both flags is an error.\n"
      "\n"
      "Locations are written cluster:/path: a cluster name (a-z, 0-9 and '-',\n"
      "starting with a letter), a colon, and an absolute path in that cluster's\n"
      "storage, without '.', '..' or '//' components. A trailing '/' is ignored.\n"
      "\n"
      "If the controller is unreachable, creating the transfer is retried for up\n"
      "to 60 s (or --timeout) with the same request id, so a retry never starts a\n"
      "second copy. While waiting, a progress line is shown on stderr if it is a\n"
      "terminal. Ctrl-C stops the waiting, not the transfer: follow it with\n"
      "'ferry status ID'.\n"
      "\n"
      "Exit status: 0 if the transfer SUCCEEDED (with --no-wait: once it is\n"
      "accepted); 1 if it FAILED or was CANCELLED, or a call failed (the message\n"
      "names the gRPC code); 2 if the command line is wrong (nothing was sent).";
  command.examples =
      "  ferry cp -r local:/data/logs local:/backup/logs\n"
      "  ferry cp --overwrite=update --label team=search -r local:/in local:/out\n"
      "  ferry cp --dry-run -r local:/data local:/copy\n"
      "  ferry cp -rH --preserve=owner local:/home local:/backup/home\n"
      "  ferry cp --no-wait --json local:/big.tar local:/archive/big.tar\n";
  command.flags = {
      {"recursive", 'r', "", false, {}, "Copy a directory and everything below it"},
      {"overwrite",
       '\0',
       "POLICY",
       false,
       {"never", "replace", "update", "skip-identical"},
       "If a destination file exists (default: never):\n"
       "  never           fail that file\n"
       "  replace         replace it, atomically\n"
       "  update          replace it if the source is newer\n"
       "                  or its size differs\n"
       "  skip-identical  skip it if size and mtime match,\n"
       "                  else replace it"},
      {"priority",
       '\0',
       "CLASS",
       false,
       {"best-effort", "batch", "guaranteed"},
       "Priority class (default: batch):\n"
       "  best-effort  only capacity nobody else wants\n"
       "  batch        fair share between users\n"
       "  guaranteed   served first, from your quota"},
      {"label",
       '\0',
       "KEY=VALUE",
       true,
       {},
       "Label the transfer, for filtering (repeatable,\n"
       "at most 16); KEY: 1-63 of a-z 0-9 _ . -"},
      {"preserve",
       '\0',
       "LIST",
       true,
       {},
       "Also preserve these attributes (comma-separated,\n"
       "repeatable): mode, mtime, owner, hard-links, all\n"
       "(default: mode,mtime)"},
      {"no-preserve",
       '\0',
       "LIST",
       true,
       {},
       "Do not preserve these attributes (same names)"},
      {"hard-links", 'H', "", false, {}, "Keep hard links: same as --preserve=hard-links"},
      {"dry-run", '\0', "", false, {}, "Plan and report what would be copied; copy nothing"},
      {"no-wait", '\0', "", false, {}, "Return as soon as the transfer is accepted"},
      {"request_id",
       '\0',
       "ID",
       false,
       {},
       "Idempotency key, 1-128 printable ASCII characters\n"
       "(default: random); the same ID and arguments give\n"
       "back the same transfer, never a second one"},
      {"json", '\0', "", false, {}, "Print the transfer as one line of JSON instead"},
      {"timeout",
       '\0',
       "DURATION",
       false,
       {},
       "Stop waiting after DURATION, e.g. 90s, 30m, 2h\n"
       "(default: no limit); the transfer itself goes on"},
  };
  command.run = RunCp;
  return command;
}

}  // namespace ferry::cli
