#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace ferry {
namespace {

TEST(GrpcStatusTest, RoundTripsCodeAndMessage) {
  const absl::Status original = absl::PermissionDeniedError("no READ on local:/a");
  const grpc::Status converted = ToGrpcStatus(original);
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(converted.error_message(), "no READ on local:/a");
  EXPECT_EQ(FromGrpcStatus(converted), original);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, RetryableCodesAreTransientOnes) {
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsRetryable(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(IsRetryable(absl::StatusCode::kNotFound));
  EXPECT_FALSE(IsRetryable(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(IsRetryable(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(IsRetryable(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace ferry
