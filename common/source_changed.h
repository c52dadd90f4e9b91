// The one status that says "the source changed since it was planned".
//
// copyd (local reads, its DataService, and pullers reading another cluster's
// DataService, where the status crosses gRPC as code + message) reports it as
// FAILED_PRECONDITION with a message starting "source changed"; this header is the only
// place that builds or recognises it. Beyond copyd it travels as a distinct signal
// (FileResult.source_changed), never by message. Thread safety: pure functions.
#ifndef FERRY_COMMON_SOURCE_CHANGED_H_
#define FERRY_COMMON_SOURCE_CHANGED_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ferry {

// FAILED_PRECONDITION "source changed (<what>): <path>".
absl::Status SourceChangedError(absl::string_view path, absl::string_view what);

// Whether `status` was made by SourceChangedError (also after a trip through gRPC).
bool IsSourceChanged(const absl::Status& status);

}  // namespace ferry

#endif  // FERRY_COMMON_SOURCE_CHANGED_H_
