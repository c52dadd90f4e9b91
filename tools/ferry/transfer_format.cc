#include "tools/ferry/transfer_format.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "tools/ferry/location.h"

namespace ferry::cli {
namespace {

using ferry::v1::Transfer;
using ferry::v1::TransferProgress;

constexpr absl::string_view kStatePrefix = "TRANSFER_STATE_";
constexpr int kMaxStatusErrors = 5;

bool HasTime(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", ToTime(t), absl::UTCTimeZone());
}

// The server's own duration when it has one, else what the client measured.
absl::Duration TransferDuration(const Transfer& transfer, absl::Duration measured) {
  if (HasTime(transfer.create_time()) && HasTime(transfer.end_time())) {
    return std::max(ToTime(transfer.end_time()) - ToTime(transfer.create_time()),
                    absl::ZeroDuration());
  }
  return measured;
}

std::string Plural(int64_t count, absl::string_view noun) {
  return absl::StrCat(count, " ", noun, count == 1 ? "" : "s");
}

// "203 files, 64.2 MiB in 3.1 s (20.7 MiB/s)", or the dry-run estimate.
std::string SuccessSummary(const Transfer& transfer, absl::Duration elapsed) {
  const TransferProgress& p = transfer.progress();
  if (transfer.dry_run()) {
    return absl::StrCat(
        "dry run: would copy ", Plural(p.files_total() - p.files_skipped(), "file"), ", ",
        FormatBytes(p.bytes_total()),
        p.files_skipped() > 0 ? absl::StrCat(", skip ", p.files_skipped()) : "");
  }
  std::string summary = Plural(p.files_done(), "file");
  if (p.files_skipped() > 0) absl::StrAppend(&summary, " (", p.files_skipped(), " skipped)");
  absl::StrAppend(&summary, ", ", FormatBytes(p.bytes_done()), " in ",
                  FormatShortDuration(elapsed));
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds > 0) absl::StrAppend(&summary, " (", FormatRate(p.bytes_done() / seconds), ")");
  return summary;
}

// "2 files failed; first error: NOT_FOUND \"a\": gone (and 3 more errors)".
std::string FailureSummary(const Transfer& transfer) {
  std::string summary;
  if (transfer.progress().files_failed() > 0) {
    summary = absl::StrCat(Plural(transfer.progress().files_failed(), "file"), " failed; ");
  }
  if (transfer.errors_size() == 0) {
    const std::string& why = transfer.stalled_reason();
    return absl::StrCat(summary, why.empty() ? "no error reported" : why);
  }
  absl::StrAppend(&summary, "first error: ", FormatError(transfer.errors(0)));
  if (transfer.errors_size() > 1) {
    absl::StrAppend(&summary, " (and ", Plural(transfer.errors_size() - 1, "more error"), ")");
  }
  return summary;
}

std::string CancelSummary(const Transfer& transfer) {
  if (transfer.errors_size() == 0) return "cancelled";
  return absl::StrCat("cancelled: ", FormatError(transfer.errors(transfer.errors_size() - 1)));
}

// "120/203+" while the listing is still growing the total.
std::string DoneOfTotal(absl::string_view done, absl::string_view total, bool complete) {
  return absl::StrCat(done, "/", total, complete ? "" : "+");
}

// "?" when unknown, "42s" under a minute, else as FormatShortDuration.
std::string FormatEta(int64_t seconds) {
  if (seconds < 0) return "?";
  if (seconds < 60) return absl::StrCat(seconds, "s");
  return FormatShortDuration(absl::Seconds(seconds));
}

std::string ProgressCounts(const TransferProgress& p) {
  return absl::StrCat(DoneOfTotal(absl::StrCat(p.files_done() + p.files_skipped()),
                                  absl::StrCat(p.files_total()), p.listing_complete()),
                      " files, ",
                      DoneOfTotal(FormatBytes(p.bytes_done()), FormatBytes(p.bytes_total()),
                                  p.listing_complete()),
                      ", ", FormatRate(p.bytes_per_second()), ", ETA ",
                      FormatEta(p.eta_seconds()));
}

std::string OptionsSummary(const Transfer& transfer) {
  std::vector<std::string> options;
  if (transfer.recursive()) options.push_back("recursive");
  options.push_back(absl::StrCat(
      "overwrite=", EnumFlagName(ferry::v1::OverwritePolicy_Name(transfer.overwrite()),
                                 "OVERWRITE_POLICY_")));
  options.push_back(absl::StrCat(
      "priority=",
      EnumFlagName(ferry::v1::PriorityClass_Name(transfer.priority()), "PRIORITY_CLASS_")));
  std::vector<std::string> preserve;
  if (transfer.preserve().mode()) preserve.push_back("mode");
  if (transfer.preserve().mtime()) preserve.push_back("mtime");
  if (transfer.preserve().owner()) preserve.push_back("owner");
  if (transfer.preserve().hard_links()) preserve.push_back("hard-links");
  options.push_back(
      absl::StrCat("preserve=", preserve.empty() ? "none" : absl::StrJoin(preserve, ",")));
  if (transfer.dry_run()) options.push_back("dry-run");
  return absl::StrJoin(options, ", ");
}

std::string StatusLine(absl::string_view key, absl::string_view value) {
  return absl::StrFormat("  %-12s%s\n", key, value);
}

}  // namespace

std::string FormatBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit + 1 < static_cast<int>(std::size(kUnits))) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string FormatRate(double bytes_per_second) {
  return absl::StrCat(FormatBytes(static_cast<int64_t>(std::max(bytes_per_second, 0.0))),
                      "/s");
}

std::string FormatShortDuration(absl::Duration duration) {
  duration = std::max(duration, absl::ZeroDuration());
  if (duration < absl::Minutes(1)) {
    return absl::StrFormat("%.1f s", absl::ToDoubleSeconds(duration));
  }
  const int64_t seconds = absl::ToInt64Seconds(duration);
  if (duration < absl::Hours(1))
    return absl::StrFormat("%dm%02ds", seconds / 60, seconds % 60);
  return absl::StrFormat("%dh%02dm", seconds / 3600, seconds / 60 % 60);
}

std::string StateName(ferry::v1::TransferState state) {
  return std::string(absl::StripPrefix(ferry::v1::TransferState_Name(state), kStatePrefix));
}

std::string EnumFlagName(absl::string_view enum_value_name, absl::string_view prefix) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(absl::StripPrefix(enum_value_name, prefix)),
                             {{"_", "-"}});
}

std::string EnumValueName(absl::string_view flag_name, absl::string_view prefix) {
  return absl::StrCat(prefix,
                      absl::StrReplaceAll(absl::AsciiStrToUpper(flag_name), {{"-", "_"}}));
}

std::string FormatRoute(const Transfer& transfer) {
  std::vector<std::string> destinations;
  for (const ferry::v1::Location& d : transfer.destinations()) {
    destinations.push_back(FormatLocation(d));
  }
  return absl::StrCat(FormatLocation(transfer.source()), " -> ",
                      absl::StrJoin(destinations, ", "));
}

std::string FormatError(const ferry::v1::Error& error) {
  std::string text = absl::StatusCodeToString(static_cast<absl::StatusCode>(error.code()));
  if (!error.path().empty()) absl::StrAppend(&text, " ", QuoteForMessage(error.path()));
  absl::StrAppend(&text, ": ", error.message());
  return text;
}

std::string FormatResultLine(const Transfer& transfer, absl::Duration elapsed) {
  const std::string head = absl::StrCat(StateName(transfer.state()), " ", transfer.id(), " ",
                                        FormatRoute(transfer));
  switch (transfer.state()) {
    case ferry::v1::TRANSFER_STATE_SUCCEEDED:
      return absl::StrCat(head, ": ",
                          SuccessSummary(transfer, TransferDuration(transfer, elapsed)));
    case ferry::v1::TRANSFER_STATE_FAILED:
      return absl::StrCat(head, ": ", FailureSummary(transfer));
    case ferry::v1::TRANSFER_STATE_CANCELLED:
      return absl::StrCat(head, ": ", CancelSummary(transfer));
    default:
      return absl::StrCat(head, ": submitted; follow it with: ferry status ", transfer.id());
  }
}

std::string FormatProgressLine(const Transfer& transfer) {
  return absl::StrCat(transfer.id(), " ", StateName(transfer.state()), " ",
                      ProgressCounts(transfer.progress()));
}

std::string FormatStatusBlock(const Transfer& transfer) {
  const TransferProgress& p = transfer.progress();
  std::string out = absl::StrCat(transfer.id(), "  ", StateName(transfer.state()), "\n");
  absl::StrAppend(&out, StatusLine("route", FormatRoute(transfer)));
  absl::StrAppend(&out, StatusLine("options", OptionsSummary(transfer)));
  if (!transfer.labels().empty()) {
    std::vector<std::string> labels;
    for (const auto& [key, value] : transfer.labels())
      labels.push_back(absl::StrCat(key, "=", value));
    std::sort(labels.begin(), labels.end());
    absl::StrAppend(&out, StatusLine("labels", absl::StrJoin(labels, ", ")));
  }
  if (!transfer.user().empty()) absl::StrAppend(&out, StatusLine("user", transfer.user()));
  absl::StrAppend(&out, StatusLine("progress", ProgressCounts(p)));
  absl::StrAppend(
      &out, StatusLine("files",
                       absl::StrCat(p.files_done(), " done, ", p.files_skipped(), " skipped, ",
                                    p.files_failed(), " failed, ", p.retries(), " retries")));
  if (HasTime(transfer.create_time())) {
    absl::StrAppend(&out, StatusLine("created", FormatTimestamp(transfer.create_time())));
  }
  if (HasTime(transfer.end_time())) {
    absl::StrAppend(&out, StatusLine("ended", FormatTimestamp(transfer.end_time())));
  }
  if (!transfer.stalled_reason().empty()) {
    absl::StrAppend(&out, StatusLine("stalled", transfer.stalled_reason()));
  }
  const int first_shown = std::max(0, transfer.errors_size() - kMaxStatusErrors);
  for (int i = first_shown; i < transfer.errors_size(); ++i) {
    absl::StrAppend(&out, StatusLine("error", FormatError(transfer.errors(i))));
  }
  return out;
}

absl::StatusOr<std::string> TransferToJson(const Transfer& transfer) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(transfer, &json, options);
  if (!status.ok()) return absl::InternalError(status.ToString());
  return json;
}

}  // namespace ferry::cli
