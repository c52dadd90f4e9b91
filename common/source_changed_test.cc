#include "common/source_changed.h"

#include "common/grpc_status.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

TEST(SourceChangedTest, RecognisesItsOwnStatusAlsoAfterGrpc) {
  const absl::Status changed = SourceChangedError("/data/a", "modified while being read");
  EXPECT_EQ(changed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(changed.message(), "source changed (modified while being read): /data/a");
  EXPECT_TRUE(IsSourceChanged(changed));
  EXPECT_TRUE(IsSourceChanged(FromGrpcStatus(ToGrpcStatus(changed))));
}

TEST(SourceChangedTest, OtherStatusesAreNot) {
  EXPECT_FALSE(IsSourceChanged(absl::OkStatus()));
  EXPECT_FALSE(IsSourceChanged(absl::FailedPreconditionError("destination exists")));
  EXPECT_FALSE(IsSourceChanged(absl::UnavailableError("source changed (x): /a")));
  EXPECT_FALSE(IsSourceChanged(absl::FailedPreconditionError("the source changed (x)")));
}

}  // namespace
}  // namespace ferry
