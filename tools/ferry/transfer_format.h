// How the CLI shows transfers to people and scripts.
//
// Purpose: every human-readable rendering of a ferry.v1.Transfer in one place (the
// one-line result of `ferry cp`, the progress line, the `ferry status` block), plus the
// JSON form for --json, so that commands added later print transfers the same way.
// Units are binary (KiB, MiB, ...); durations are short ("3.1 s", "2m05s").
//
// Thread safety: pure functions. Failure: none, except TransferToJson (INTERNAL, which
// would mean a protobuf library bug).
#ifndef FERRY_TOOLS_FERRY_TRANSFER_FORMAT_H_
#define FERRY_TOOLS_FERRY_TRANSFER_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/transfer_state.h"
#include "proto/copy_service.pb.h"

namespace ferry::cli {

// 0 -> "0 B", 1536 -> "1.5 KiB", 67318579 -> "64.2 MiB".
std::string FormatBytes(int64_t bytes);
// Bytes per second: "20.7 MiB/s".
std::string FormatRate(double bytes_per_second);
// 3.14 s -> "3.1 s"; 125 s -> "2m05s"; 3720 s -> "1h02m".
std::string FormatShortDuration(absl::Duration duration);

// TRANSFER_STATE_SUCCEEDED -> "SUCCEEDED".
std::string StateName(ferry::v1::TransferState state);

// An enum value as written on the command line: OVERWRITE_POLICY_SKIP_IDENTICAL with
// prefix "OVERWRITE_POLICY_" -> "skip-identical"; and back (empty when no such value).
std::string EnumFlagName(absl::string_view enum_value_name, absl::string_view prefix);
std::string EnumValueName(absl::string_view flag_name, absl::string_view prefix);

// "local:/src -> local:/dst" (several destinations are comma-separated).
std::string FormatRoute(const ferry::v1::Transfer& transfer);

// One error: "NOT_FOUND \"a/b\": no such file" (the path only when there is one).
std::string FormatError(const ferry::v1::Error& error);

// The single line `ferry cp` prints at the end, e.g.
//   SUCCEEDED t-42 local:/src -> local:/dst: 203 files, 64.2 MiB in 3.1 s (20.7 MiB/s)
//   FAILED t-42 local:/src -> local:/dst: 2 files failed; first error: NOT_FOUND ...
// `elapsed` is used when the transfer carries no create/end times.
std::string FormatResultLine(const ferry::v1::Transfer& transfer, absl::Duration elapsed);

// The progress line redrawn while waiting, e.g.
//   t-42 RUNNING 120/203 files, 40.1 MiB/64.2 MiB, 12.3 MiB/s, ETA 2s
// Totals still growing (listing not complete) are shown with a '+'.
std::string FormatProgressLine(const ferry::v1::Transfer& transfer);

// The multi-line block of `ferry status`, ending with a newline.
std::string FormatStatusBlock(const ferry::v1::Transfer& transfer);

// The transfer as one line of JSON (proto field names, every field present).
absl::StatusOr<std::string> TransferToJson(const ferry::v1::Transfer& transfer);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_TRANSFER_FORMAT_H_
