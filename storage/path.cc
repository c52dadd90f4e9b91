#include "storage/path.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ferry::storage {
namespace {

constexpr absl::string_view kCursorPrefix = "w1:";
// Enough to recognise a path in a log line without letting 4 KiB of junk through.
constexpr size_t kMaxMessagePathBytes = 256;

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid path ", PathForMessage(path), ": ", why));
}

absl::Status ValidateComponent(absl::string_view path, absl::string_view name) {
  if (name.empty()) return Invalid(path, "empty component");
  if (name == ".") return Invalid(path, "'.' component");
  if (name == "..") return Invalid(path, "'..' component");
  if (name.size() > kMaxNameBytes) return Invalid(path, "component longer than 255 bytes");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRelativePath(absl::string_view path) {
  if (path.empty()) return absl::OkStatus();
  if (path.find('\0') != absl::string_view::npos) return Invalid(path, "NUL byte");
  if (path.size() > kMaxPathBytes) return Invalid(path, "longer than 4095 bytes");
  if (path.front() == '/') return Invalid(path, "absolute");
  if (path.back() == '/') return Invalid(path, "trailing slash");
  for (absl::string_view name : absl::StrSplit(path, '/')) {
    if (absl::Status s = ValidateComponent(path, name); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateNonRootPath(absl::string_view path) {
  if (path.empty()) return Invalid(path, "the root itself is not allowed here");
  return ValidateRelativePath(path);
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  return absl::StrCat(dir, "/", name);
}

absl::string_view Dirname(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? absl::string_view() : path.substr(0, slash);
}

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

absl::Status ValidateSymlinkTarget(absl::string_view target, absl::string_view link_path) {
  if (!target.empty() && target.size() <= kMaxPathBytes &&
      target.find('\0') == absl::string_view::npos) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "symlink ", PathForMessage(link_path), ": target must be 1..4095 bytes without NUL"));
}

std::string TempFileName(absl::string_view target_base, uint64_t random) {
  return SharedTempFileName(target_base, absl::StrFormat("%016x", random));
}

std::string SharedTempFileName(absl::string_view target_base, absl::string_view tag) {
  const size_t room = kMaxNameBytes - kTempFilePrefix.size() - 1 - tag.size();
  return absl::StrCat(kTempFilePrefix, target_base.substr(0, room), ".", tag);
}

std::string PathForMessage(absl::string_view path) {
  if (path.size() <= kMaxMessagePathBytes) {
    return absl::StrCat("\"", absl::CEscape(path), "\"");
  }
  return absl::StrCat("\"", absl::CEscape(path.substr(0, kMaxMessagePathBytes)),
                      "\"...(", path.size(), " bytes)");
}

std::string EncodeWalkCursor(absl::string_view last_relative_path) {
  return absl::StrCat(kCursorPrefix, last_relative_path);
}

absl::StatusOr<std::optional<std::string>> DecodeWalkCursor(absl::string_view cursor) {
  if (cursor.empty()) return std::optional<std::string>();
  if (!absl::ConsumePrefix(&cursor, kCursorPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid walk cursor ", PathForMessage(cursor)));
  }
  if (absl::Status s = ValidateRelativePath(cursor); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid walk cursor: ", s.message()));
  }
  return std::optional<std::string>(std::string(cursor));
}

}  // namespace ferry::storage
