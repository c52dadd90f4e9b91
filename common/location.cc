#include "common/location.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ferry {
namespace {

constexpr size_t kMaxClusterLength = 63;
constexpr size_t kMaxPathLength = 4095;
constexpr size_t kMaxComponentLength = 255;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

}  // namespace

absl::Status ValidateClusterName(absl::string_view cluster, absl::string_view field) {
  if (cluster.empty()) return Invalid(field, "missing cluster name");
  if (cluster.size() > kMaxClusterLength) {
    return Invalid(field, "cluster name longer than 63 characters");
  }
  if (!absl::ascii_islower(cluster[0])) {
    return Invalid(field, "cluster name must start with a lowercase letter");
  }
  for (char c : cluster) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return Invalid(field, "cluster name may only hold a-z, 0-9 and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAbsolutePath(absl::string_view path, absl::string_view field) {
  if (path.empty()) return Invalid(field, "empty path");
  if (path[0] != '/') return Invalid(field, "path must be absolute (start with '/')");
  if (path.size() > kMaxPathLength) return Invalid(field, "path longer than 4095 bytes");
  if (path.find('\0') != absl::string_view::npos) {
    return Invalid(field, "path contains a NUL byte");
  }
  if (path == "/") return absl::OkStatus();
  if (path.back() == '/') return Invalid(field, "path has a trailing '/'");
  for (absl::string_view component : absl::StrSplit(path.substr(1), '/')) {
    if (component.empty()) return Invalid(field, "path has an empty component ('//')");
    if (component == "." || component == "..") {
      return Invalid(field, "path may not contain '.' or '..' components");
    }
    if (component.size() > kMaxComponentLength) {
      return Invalid(field, "path has a component longer than 255 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLocation(const v1::Location& location, absl::string_view field) {
  if (absl::Status s = ValidateClusterName(location.cluster(), absl::StrCat(field, ".cluster"));
      !s.ok()) {
    return s;
  }
  return ValidateAbsolutePath(location.path(), absl::StrCat(field, ".path"));
}

std::string FormatLocation(const v1::Location& location) {
  return absl::StrCat(location.cluster(), ":", location.path());
}

absl::StatusOr<std::string> RootRelativePath(absl::string_view path,
                                             absl::string_view field) {
  if (absl::Status s = ValidateAbsolutePath(path, field); !s.ok()) return s;
  return std::string(path.substr(1));
}

std::string JoinPath(absl::string_view dir, absl::string_view relative) {
  if (relative.empty()) return std::string(dir);
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, relative);
  return absl::StrCat(dir, "/", relative);
}

}  // namespace ferry
