// Locations as people write them: `cluster:/path`.
//
// Purpose: the CLI's parser for the `cluster:/path` syntax, so every command refuses a
// malformed location before any RPC, with a message that quotes what was typed, says
// what is wrong and how to write it. The rules themselves are common/location.h's (the
// controller applies the same ones to what arrives):
//   - cluster: 1-63 characters of [a-z0-9-], starting with a letter;
//   - path: starts with '/'; no empty, "." or ".." components; no component longer than
//     255 bytes; no NUL byte; at most 4095 bytes.
// What only people need is handled here: the text is split at the FIRST colon (a path
// may contain ':'), and one trailing '/' is tolerated and stripped ("local:/a/" is
// "local:/a"; "/" alone is the root and stays "/").
//
// Thread safety: pure functions. Failure: only INVALID_ARGUMENT, whose message starts
// with the quoted input (escaped and length-capped) and names the broken rule.
#ifndef FERRY_TOOLS_FERRY_LOCATION_H_
#define FERRY_TOOLS_FERRY_LOCATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/location.h"
#include "proto/common.pb.h"

namespace ferry::cli {

// "local:/data/x" -> {cluster: "local", path: "/data/x"}.
absl::StatusOr<ferry::v1::Location> ParseLocation(absl::string_view text);

// {cluster: "local", path: "/data/x"} -> "local:/data/x". Does not validate.
using ::ferry::FormatLocation;

// The input as it appears in messages: quoted, C-escaped, capped at a few hundred bytes
// so that hostile input (newlines, escape sequences, 4 KiB of junk) cannot garble a
// terminal.
std::string QuoteForMessage(absl::string_view text);

}  // namespace ferry::cli

#endif  // FERRY_TOOLS_FERRY_LOCATION_H_
