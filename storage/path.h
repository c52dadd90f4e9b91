// Relative paths inside a FileSystem root: validation and small string helpers.
//
// Purpose: the one place that decides which path spellings are acceptable. Both the
// POSIX file system and the in-memory fake call ValidateRelativePath before any I/O, so
// a malformed path is refused identically everywhere. The POSIX implementation does not
// rely on this alone: the kernel (openat2 RESOLVE_BENEATH) enforces confinement too.
//
// A valid relative path is "" (the root) or one or more components joined by single
// '/', where no component is empty, "." or "..", longer than kMaxNameBytes, or contains
// NUL; the whole path is at most kMaxPathBytes and neither starts nor ends with '/'.
// Any other byte is allowed (newlines, non-UTF-8, look-alikes of '/' and '.'): names are
// bytes, not text.
//
// Thread safety: all functions are pure. Failure: only INVALID_ARGUMENT.
#ifndef FERRY_STORAGE_PATH_H_
#define FERRY_STORAGE_PATH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ferry::storage {

// NAME_MAX and PATH_MAX - 1 (the kernel counts the terminating NUL in PATH_MAX).
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kMaxPathBytes = 4095;

// OK, or INVALID_ARGUMENT naming the rule the path breaks.
absl::Status ValidateRelativePath(absl::string_view path);

// Like ValidateRelativePath, but "" (the root) is refused too: for operations that
// need a named entry (a rename, a temporary file's target, a remove).
absl::Status ValidateNonRootPath(absl::string_view path);

// "a" + "b" -> "a/b"; "" + "b" -> "b". Does not validate.
std::string JoinPath(absl::string_view dir, absl::string_view name);

// "a/b/c" -> "a/b"; "a" -> ""; "" -> "".
absl::string_view Dirname(absl::string_view path);

// "a/b/c" -> "c"; "a" -> "a"; "" -> "".
absl::string_view Basename(absl::string_view path);

// A symlink's text: 1..kMaxPathBytes bytes without NUL. It is stored, never resolved,
// so anything else goes ("../../etc", "/abs"). INVALID_ARGUMENT naming `link_path`.
absl::Status ValidateSymlinkTarget(absl::string_view target, absl::string_view link_path);

// The name of a temporary file for `target_base` (a file name, no '/'):
// ".ferry-tmp.<target_base>.<16 hex digits of random>", with target_base cut so the
// whole name fits in kMaxNameBytes. The prefix lets orphans be found and removed.
inline constexpr absl::string_view kTempFilePrefix = ".ferry-tmp.";
std::string TempFileName(absl::string_view target_base, uint64_t random);
// The same with a chosen `tag` instead of the random digits, for a temporary file that
// several writers must find by name (the chunks of one large file share one):
// ".ferry-tmp.<target_base, cut>.<tag>". `tag` must make the name unique (e.g.
// "<transfer id>-<file number>") and be short (at most 64 bytes, no '/' or NUL).
std::string SharedTempFileName(absl::string_view target_base, absl::string_view tag);

// A quoted, C-escaped, length-capped rendering for status messages and logs, so hostile
// names (newlines, NUL, 4 KiB of junk) cannot garble or flood a log line.
std::string PathForMessage(absl::string_view path);

// Walk cursors, shared by every FileSystem so a checkpoint stays meaningful whichever
// backend wrote it. Format: "w1:" followed by the path of the last returned entry
// relative to the walk's starting path ("" when that entry was the start itself, i.e.
// a walk of a single file). The empty cursor means "from the beginning".
std::string EncodeWalkCursor(absl::string_view last_relative_path);
// nullopt for "" (start); the relative path otherwise; INVALID_ARGUMENT if malformed.
absl::StatusOr<std::optional<std::string>> DecodeWalkCursor(absl::string_view cursor);

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_PATH_H_
