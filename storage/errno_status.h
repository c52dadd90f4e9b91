// The single mapping from errno to absl::Status for everything in storage/.
//
// Purpose: callers decide what to do next from the status code alone (retry, retry
// elsewhere, give up on this file), so every backend must map the same errno to the same
// code. The table (also in storage/README.md):
//   ENOENT                                   NOT_FOUND
//   EACCES EPERM EROFS                       PERMISSION_DENIED
//   ELOOP ENAMETOOLONG EINVAL                INVALID_ARGUMENT ("symlink in path" for ELOOP)
//   ENOTDIR EISDIR ENOTEMPTY EEXIST EXDEV    FAILED_PRECONDITION (EXDEV: rename or link
//   EBUSY ETXTBSY EMLINK                     across file systems or mounts; EEXIST is
//                                            ALREADY_EXISTS for Link, LinkErrnoToStatus)
//   ENOSPC EDQUOT EFBIG EMFILE ENFILE ENOMEM RESOURCE_EXHAUSTED
//   EIO EAGAIN ETIMEDOUT ESTALE ENOLCK       UNAVAILABLE
//   anything else                            INTERNAL
// Path resolution (openat2 from the root) reports an escape attempt as EXDEV; use
// ResolveErrnoToStatus there so it reads "path escapes root" (INVALID_ARGUMENT).
//
// Messages name the operation and the path (escaped, relative to the root).
// Thread safety: pure functions.
#ifndef FERRY_STORAGE_ERRNO_STATUS_H_
#define FERRY_STORAGE_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "storage/file_system.h"

namespace ferry::storage {

absl::StatusCode ErrnoToCode(int err);

// e.g. ErrnoToStatus(ENOSPC, "write", "a/b") ->
//   RESOURCE_EXHAUSTED "write \"a/b\": No space left on device".
absl::Status ErrnoToStatus(int err, absl::string_view op, absl::string_view path);

// As ErrnoToStatus, for a failed openat2 resolution: EXDEV becomes INVALID_ARGUMENT
// "path escapes root" instead of FAILED_PRECONDITION.
absl::Status ResolveErrnoToStatus(int err, absl::string_view op, absl::string_view path);

// OK for kRegular. Otherwise the refusal every backend gives when asked to open a
// non-regular file for data: a directory is FAILED_PRECONDITION "is a directory"; a
// symlink INVALID_ARGUMENT "symlink in path"; anything else (FIFO, socket, device)
// INVALID_ARGUMENT, since opening it could block or have side effects.
absl::Status CheckRegularFile(FileType type, absl::string_view op, absl::string_view path);

// Link's refusal of anything but a regular file as the existing name: OK for kRegular,
// FAILED_PRECONDITION otherwise (a directory, a symlink, a FIFO, socket or device).
absl::Status CheckLinkable(FileType type, absl::string_view existing);

// A failed link of `existing` at `new_path`: as ErrnoToStatus, except that EEXIST (the
// new name is taken) is ALREADY_EXISTS.
absl::Status LinkErrnoToStatus(int err, absl::string_view existing,
                               absl::string_view new_path);

// SetOwner's check of its ids: INVALID_ARGUMENT naming "uid" or "gid" for 4294967295,
// which chown(2) reads as "leave unchanged" rather than as an owner.
absl::Status ValidateOwner(uint32_t uid, uint32_t gid, absl::string_view path);

// OpenOrCreateForWrite's check of an existing file at a predictable name: OK if it has
// one link and belongs to the effective user, PERMISSION_DENIED otherwise (a planted
// hard link or another user's file must not receive the data).
absl::Status CheckUnshared(uint64_t nlink, uint32_t uid, absl::string_view op,
                           absl::string_view path);

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_ERRNO_STATUS_H_
