#include "common/source_changed.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ferry {
namespace {
constexpr absl::string_view kPrefix = "source changed (";
}  // namespace

absl::Status SourceChangedError(absl::string_view path, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat(kPrefix, what, "): ", path));
}

bool IsSourceChanged(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         absl::StartsWith(status.message(), kPrefix);
}

}  // namespace ferry
