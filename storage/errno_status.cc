#include "storage/errno_status.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/path.h"

namespace ferry::storage {

absl::StatusCode ErrnoToCode(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case ELOOP:
    case ENAMETOOLONG:
    case EINVAL:
      return absl::StatusCode::kInvalidArgument;
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case EEXIST:
    case EXDEV:
    case EBUSY:
    case ETXTBSY:
    case EMLINK:
      return absl::StatusCode::kFailedPrecondition;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::StatusCode::kResourceExhausted;
    case EIO:
    case EAGAIN:
    case ETIMEDOUT:
    case ESTALE:
    case ENOLCK:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status ErrnoToStatus(int err, absl::string_view op, absl::string_view path) {
  // strerror's text for ELOOP ("Too many levels of symbolic links") misleads: we never
  // follow links, so any ELOOP means a symlink was met where a file or directory was due.
  // strerror_r (GNU form) because strerror is not thread-safe.
  char buf[128];
  const char* what = err == ELOOP ? "symlink in path" : strerror_r(err, buf, sizeof buf);
  return absl::Status(ErrnoToCode(err),
                      absl::StrCat(op, " ", PathForMessage(path), ": ", what));
}

absl::Status ResolveErrnoToStatus(int err, absl::string_view op, absl::string_view path) {
  if (err == EXDEV) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, " ", PathForMessage(path), ": path escapes root"));
  }
  return ErrnoToStatus(err, op, path);
}

absl::Status CheckRegularFile(FileType type, absl::string_view op, absl::string_view path) {
  const std::string where = absl::StrCat(op, " ", PathForMessage(path), ": ");
  switch (type) {
    case FileType::kRegular:
      return absl::OkStatus();
    case FileType::kDirectory:
      return absl::FailedPreconditionError(where + "is a directory");
    case FileType::kSymlink:
      return absl::InvalidArgumentError(where + "symlink in path");
    case FileType::kOther:
      break;
  }
  return absl::InvalidArgumentError(where + "not a regular file (FIFO, socket or device)");
}

absl::Status CheckLinkable(FileType type, absl::string_view existing) {
  if (type == FileType::kRegular) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "link ", PathForMessage(existing), ": not a regular file, cannot be hard-linked"));
}

absl::Status LinkErrnoToStatus(int err, absl::string_view existing,
                               absl::string_view new_path) {
  const absl::Status s = ErrnoToStatus(err, "link", absl::StrCat(existing, " -> ", new_path));
  if (err != EEXIST) return s;
  return absl::AlreadyExistsError(s.message());
}

absl::Status ValidateOwner(uint32_t uid, uint32_t gid, absl::string_view path) {
  constexpr uint32_t kUnchanged = 0xFFFFFFFF;
  for (const auto& [field, id] : {std::pair<const char*, uint32_t>{"uid", uid}, {"gid", gid}}) {
    if (id == kUnchanged) {
      return absl::InvalidArgumentError(absl::StrCat(
          "chown ", PathForMessage(path), ": ", field,
          " 4294967295 means \"leave unchanged\" to chown, not an owner"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUnshared(uint64_t nlink, uint32_t uid, absl::string_view op,
                           absl::string_view path) {
  if (nlink == 1 && uid == geteuid()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(op, " ", PathForMessage(path),
                   ": exists but is hard-linked or owned by another user; not writing it"));
}

}  // namespace ferry::storage
