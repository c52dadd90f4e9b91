// Validation of ferry.v1.Location (`cluster:/path`), shared by the CLI, which parses
// what people type, and the controller, which must not trust what arrives.
//
// Rules: cluster is 1-63 characters of [a-z0-9-] starting with a letter; path is
// absolute, has no empty, `.` or `..` components, no NUL, no trailing slash (except
// "/"), and is at most 4095 bytes. Errors are INVALID_ARGUMENT with a message that
// names `field` (e.g. "destinations[1].path") and says what is wrong.
//
// Thread safety: pure functions.
#ifndef FERRY_COMMON_LOCATION_H_
#define FERRY_COMMON_LOCATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"

namespace ferry {

absl::Status ValidateClusterName(absl::string_view cluster, absl::string_view field);
absl::Status ValidateAbsolutePath(absl::string_view path, absl::string_view field);
absl::Status ValidateLocation(const v1::Location& location, absl::string_view field);

// "cluster:/path".
std::string FormatLocation(const v1::Location& location);

// The storage-root-relative form of a validated absolute cluster path: "/a/b" -> "a/b",
// "/" -> "". INVALID_ARGUMENT (naming `field`) for a path ValidateAbsolutePath refuses.
absl::StatusOr<std::string> RootRelativePath(absl::string_view path,
                                             absl::string_view field);

// Joins an absolute directory and a relative path ("" returns `dir`).
std::string JoinPath(absl::string_view dir, absl::string_view relative);

}  // namespace ferry

#endif  // FERRY_COMMON_LOCATION_H_
