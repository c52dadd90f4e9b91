// The one place where absl::Status and grpc::Status meet (the RPC edge).
//
// ferry's code returns absl::Status everywhere; services convert when they finish an
// RPC, clients convert what a stub returned. Codes map one to one (both follow
// google.rpc.Code); messages pass through unchanged.
//
// Thread safety: pure functions.
#ifndef FERRY_COMMON_GRPC_STATUS_H_
#define FERRY_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ferry {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Whether a failure with this code is worth retrying unchanged (the operation may
// succeed later): UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, RESOURCE_EXHAUSTED,
// INTERNAL, UNKNOWN. Everything else is permanent for the same request.
bool IsRetryable(absl::StatusCode code);

}  // namespace ferry

#endif  // FERRY_COMMON_GRPC_STATUS_H_
