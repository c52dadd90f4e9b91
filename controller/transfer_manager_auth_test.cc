// TransferManager with a TaskAuthorizer (issue 7): a grant revoked while a transfer
// runs fails the files whose tasks are leased afterwards with PERMISSION_DENIED, without
// retries, and a chunked file's temporary file is still cleaned up.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/task_authorizer.h"
#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::RegularFile;

// Allows everything until revoked; then refuses all but cleanups, as
// PolicyTaskAuthorizer does after a policy reload without the grant.
class RevocableAuthorizer final : public TaskAuthorizer {
 public:
  absl::Status Authorize(const v1::Transfer& /*transfer*/, v1::Task* task) override {
    ++calls;
    if (!revoked || task->kind() == v1::TASK_KIND_CLEANUP) return absl::OkStatus();
    return absl::PermissionDeniedError(
        absl::StrCat("WRITE denied on ", task->files(0).destination_path()));
  }
  bool revoked = false;
  int calls = 0;
};

class TransferManagerAuthTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.task_authorizer = &authorizer_;
    options_.plan_limits.chunk_bytes = 4;
    Open();
  }
  RevocableAuthorizer authorizer_;
};

TEST_F(TransferManagerAuthTest, RevokedBeforeLeaseFailsTheFilesWithoutRetry) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {RegularFile("", 3)});
  authorizer_.revoked = true;
  EXPECT_TRUE(Lease(worker).empty());
  EXPECT_EQ(authorizer_.calls, 1);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().retries(), 0);
  ASSERT_GT(transfer.errors_size(), 0);
  EXPECT_EQ(transfer.errors(0).code(), static_cast<int>(absl::StatusCode::kPermissionDenied));
  clock_.Advance(absl::Minutes(10));  // Nothing comes back after any backoff.
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(Lease(RegisterWorker("copyd-2")).empty());
  EXPECT_EQ(authorizer_.calls, 1);
}

TEST_F(TransferManagerAuthTest, RevokedBeforeCommitFailsTheFileAndCleansUp) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {RegularFile("", 10)});  // Three chunks of at least 4 bytes.
  std::vector<v1::Task> chunks = Lease(worker);
  ASSERT_GE(chunks.size(), 2u);
  for (const v1::Task& chunk : chunks) {
    EXPECT_EQ(chunk.kind(), v1::TASK_KIND_COPY_CHUNK);
    ReportSuccess(worker, chunk);
  }
  authorizer_.revoked = true;  // The commit is leased next: refused.
  EXPECT_TRUE(Lease(worker).empty());
  // The file failed; what is leased now is the removal of its temporary file.
  std::vector<v1::Task> next = Lease(worker);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].kind(), v1::TASK_KIND_CLEANUP);
  ReportSuccess(worker, next[0]);
  EXPECT_TRUE(Lease(worker).empty());
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  ASSERT_GT(transfer.errors_size(), 0);
  EXPECT_TRUE(absl::StrContains(transfer.errors(0).message(), "WRITE denied"))
      << transfer.errors(0).message();
}

}  // namespace
}  // namespace ferry::controller
