// The controller's rows of the denial table (issue 7): policy at CreateTransfer, the
// admin verbs, the re-check before a commit after a revocation, and the capabilities
// signed for leased tasks. Each row asserts the exact status code and, for denials,
// an audit line saying DENIED.
#include "controller/authorizer_hooks.h"

#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "auth/capability.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using ::testing::HasSubstr;

constexpr char kAlice[] = "ferry://user/alice";
constexpr char kBob[] = "ferry://user/bob";
constexpr char kRoot[] = "ferry://user/root";
constexpr char kHere[] = "b";   // This controller's cluster (destinations).
constexpr char kThere[] = "a";  // The source cluster.

// alice reads a:/data/a and writes b:/home/alice (and b:/shared/out);
// bob only writes b:/home/bob; root is an admin without data grants.
constexpr char kPolicy[] = R"(
grants { principals: "ferry://user/alice" cluster: "a" path_prefix: "/data/a"
         permissions: PERMISSION_READ }
grants { principals: "ferry://user/alice" cluster: "b" path_prefix: "/home/alice"
         permissions: PERMISSION_WRITE }
grants { principals: "ferry://user/alice" cluster: "b" path_prefix: "/shared/out"
         permissions: PERMISSION_WRITE }
grants { principals: "ferry://user/alice" cluster: "a" path_prefix: "/wo"
         permissions: PERMISSION_WRITE }
grants { principals: "ferry://user/bob" cluster: "b" path_prefix: "/home/bob"
         permissions: PERMISSION_WRITE }
admin_principals: "ferry://user/root"
)";

// Alice without her read grant: the revocation.
constexpr char kRevokedPolicy[] = R"(
grants { principals: "ferry://user/alice" cluster: "b" path_prefix: "/home/alice"
         permissions: PERMISSION_WRITE }
admin_principals: "ferry://user/root"
)";

class RecordingSink : public auth::AuditSink {
 public:
  void Write(absl::string_view line) override {
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(line);
  }
  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<const auth::KeySet> TestKeys() {
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> keys = auth::KeySet::Parse(
      absl::StrCat("k1 ", std::string(64, '7'), " signing\n"), "test keys");
  EXPECT_TRUE(keys.ok()) << keys.status();
  return *keys;
}

v1::Location At(const std::string& cluster, const std::string& path) {
  v1::Location location;
  location.set_cluster(cluster);
  location.set_path(path);
  return location;
}

v1::CreateTransferRequest Create(const v1::Location& source,
                                 std::vector<v1::Location> destinations) {
  v1::CreateTransferRequest request;
  request.set_request_id("r1");
  *request.mutable_source() = source;
  for (v1::Location& d : destinations) *request.add_destinations() = std::move(d);
  return request;
}

v1::Transfer AliceTransfer() {
  v1::Transfer transfer;
  transfer.set_id("t-1");
  transfer.set_user(kAlice);
  *transfer.mutable_source() = At(kThere, "/data/a");
  *transfer.add_destinations() = At(kHere, "/home/alice/copy");
  return transfer;
}

v1::FileTask FileOf(const std::string& source, const std::string& destination,
                    uint64_t size) {
  v1::FileTask file;
  file.set_source_path(source);
  file.set_destination_path(destination);
  file.mutable_source_info()->set_size(size);
  return file;
}

class AuthorizerHooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    path_ = absl::StrCat(tmp, "/policy-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    WritePolicy(kPolicy);
    absl::StatusOr<std::unique_ptr<auth::PolicyStore>> store = auth::PolicyStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    policy_ = std::make_unique<TransferPolicy>(store_.get(), &sink_, kHere);
    keys_ = auth::KeyRing::FromKeySet(TestKeys());
    issuer_ = std::make_unique<CapabilityIssuer>(keys_.get(), &clock_, kHere,
                                                 absl::Minutes(2));
    tasks_ = std::make_unique<PolicyTaskAuthorizer>(policy_.get(), issuer_.get());
  }
  void TearDown() override { unlink(path_.c_str()); }

  void WritePolicy(absl::string_view text) {
    const std::string temp = path_ + ".tmp";
    std::ofstream(temp, std::ios::trunc) << text;
    ASSERT_EQ(rename(temp.c_str(), path_.c_str()), 0);
  }

  bool LastAuditDenied() const {
    const std::vector<std::string> lines = sink_.lines();
    return !lines.empty() && absl::StrContains(lines.back(), "decision=DENIED");
  }

  std::string path_;
  RecordingSink sink_;
  SimulatedClock clock_;
  std::unique_ptr<auth::PolicyStore> store_;
  std::unique_ptr<TransferPolicy> policy_;
  std::unique_ptr<auth::KeyRing> keys_;
  std::unique_ptr<CapabilityIssuer> issuer_;
  std::unique_ptr<PolicyTaskAuthorizer> tasks_;
};

struct CreateRow {
  const char* name;
  const char* user;
  v1::CreateTransferRequest request;
  absl::StatusCode code;
  const char* named;  // What the message must name ("" for OK).
};

TEST_F(AuthorizerHooksTest, CreateTransferTable) {
  const std::vector<CreateRow> rows = {
      {"granted", kAlice, Create(At(kThere, "/data/a/x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kOk, ""},
      {"other principal", kBob, Create(At(kThere, "/data/a/x"), {At(kHere, "/home/bob/x")}),
       absl::StatusCode::kPermissionDenied, "/data/a/x"},
      {"sibling prefix of source", kAlice,
       Create(At(kThere, "/data/ab"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kPermissionDenied, "/data/ab"},
      {"parent of the granted prefix", kAlice,
       Create(At(kThere, "/data"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kPermissionDenied, "/data"},
      {"dot-dot out of the prefix", kAlice,
       Create(At(kThere, "/data/a/../b"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kInvalidArgument, ".."},
      {"dot component", kAlice, Create(At(kThere, "/data/a/./x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kInvalidArgument, ""},
      {"doubled slash", kAlice, Create(At(kThere, "/data/a//x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kInvalidArgument, ""},
      {"NUL byte", kAlice,
       Create(At(kThere, std::string("/data/a/x\0/y", 12)), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kInvalidArgument, ""},
      {"grant on another cluster", kAlice,
       Create(At(kHere, "/data/a/x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kPermissionDenied, "/data/a/x"},
      {"WRITE does not imply READ", kAlice,
       Create(At(kThere, "/wo/x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kPermissionDenied, "/wo/x"},
      {"READ does not imply WRITE", kAlice,
       Create(At(kThere, "/data/a/x"), {At(kThere, "/data/a/y")}),
       absl::StatusCode::kPermissionDenied, "/data/a/y"},
      {"second destination not granted", kAlice,
       Create(At(kThere, "/data/a/x"), {At(kHere, "/home/alice/x"), At(kHere, "/home/bob/x")}),
       absl::StatusCode::kPermissionDenied, "/home/bob/x"},
      {"admin role grants no data", kRoot,
       Create(At(kThere, "/data/a/x"), {At(kHere, "/home/alice/x")}),
       absl::StatusCode::kPermissionDenied, "/data/a/x"},
  };
  for (const CreateRow& row : rows) {
    SCOPED_TRACE(row.name);
    const absl::Status status = policy_->CheckCreate(row.user, row.request);
    EXPECT_EQ(status.code(), row.code) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(row.named));
    if (row.code == absl::StatusCode::kPermissionDenied) {
      EXPECT_TRUE(LastAuditDenied());
    }
  }
}

TEST_F(AuthorizerHooksTest, AdminVerbsTable) {
  v1::ListTransfersRequest all;
  all.set_all_users(true);
  v1::ListTransfersRequest of_alice;
  of_alice.set_user(kAlice);
  v1::ListTransfersRequest own;
  EXPECT_EQ(policy_->CheckList(kBob, all).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(LastAuditDenied());
  EXPECT_EQ(policy_->CheckList(kBob, of_alice).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(policy_->CheckList(kBob, own).ok());
  EXPECT_TRUE(policy_->CheckList(kAlice, of_alice).ok());
  EXPECT_TRUE(policy_->CheckList(kRoot, all).ok());

  const v1::Transfer transfer = AliceTransfer();
  for (const char* verb : {"CancelTransfer", "GetTransfer", "WatchTransfer"}) {
    SCOPED_TRACE(verb);
    const absl::Status bob = policy_->CheckOwnerOrAdmin(kBob, verb, transfer);
    EXPECT_EQ(bob.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(std::string(bob.message()), HasSubstr(verb));
    EXPECT_TRUE(LastAuditDenied());
    EXPECT_TRUE(policy_->CheckOwnerOrAdmin(kAlice, verb, transfer).ok());
    EXPECT_TRUE(policy_->CheckOwnerOrAdmin(kRoot, verb, transfer).ok());
  }
}

TEST_F(AuthorizerHooksTest, RevokedGrantFailsTheNextLease) {
  v1::Task task;
  task.set_kind(v1::TASK_KIND_COMMIT_FILE);
  *task.add_files() = FileOf("/data/a/f", "/home/alice/copy/f", 10);
  const v1::Transfer transfer = AliceTransfer();
  ASSERT_TRUE(tasks_->Authorize(transfer, &task).ok());

  WritePolicy(kRevokedPolicy);
  ASSERT_TRUE(store_->Reload().ok());
  const absl::Status status = tasks_->Authorize(transfer, &task);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/data/a/f"));
  EXPECT_TRUE(LastAuditDenied());

  v1::Task cleanup;  // Cleaning up its temporary files still runs.
  cleanup.set_kind(v1::TASK_KIND_CLEANUP);
  *cleanup.add_files() = FileOf("/data/a/f", "/home/alice/copy/f", 10);
  EXPECT_TRUE(tasks_->Authorize(transfer, &cleanup).ok());
}

TEST_F(AuthorizerHooksTest, DestinationOutsideTheGrantFailsTheLease) {
  v1::Task task;
  task.set_kind(v1::TASK_KIND_COPY_FILES);
  *task.add_files() = FileOf("/data/a/f", "/home/alice/copy/f", 10);
  *task.add_files() = FileOf("/data/a/g", "/home/bob/g", 10);  // Forged or stale.
  const absl::Status status = tasks_->Authorize(AliceTransfer(), &task);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/home/bob/g"));
}

TEST_F(AuthorizerHooksTest, RemoteTasksCarryExactReadCapabilities) {
  v1::Task task;
  task.set_kind(v1::TASK_KIND_COPY_CHUNK);
  task.add_source_data_addresses("127.0.0.1:1");
  v1::FileTask chunk = FileOf("/data/a/big", "/home/alice/copy/big", 1000);
  chunk.set_offset(100);
  chunk.set_length(50);
  *task.add_files() = chunk;
  ASSERT_TRUE(tasks_->Authorize(AliceTransfer(), &task).ok());
  const v1::Capability& capability = task.files(0).source_capability();

  absl::StatusOr<v1::CapabilityClaims> claims =
      auth::Verify(*keys_, capability, clock_.Now(), kThere);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user(), kAlice);
  EXPECT_EQ(claims->transfer_id(), "t-1");
  EXPECT_EQ(claims->issuer_cluster(), kHere);
  EXPECT_EQ(claims->operation(), v1::CAPABILITY_OPERATION_READ);
  EXPECT_TRUE(auth::CheckRead(*claims, "/data/a/big", 100, 50).ok());
  // Replayed for a wider range, another file, or to end of file: refused.
  EXPECT_EQ(auth::CheckRead(*claims, "/data/a/big", 100, 51).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth::CheckRead(*claims, "/data/a/big", 0, 0).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth::CheckRead(*claims, "/data/a/other", 100, 50).code(),
            absl::StatusCode::kPermissionDenied);
  // For another audience, or after expiry: UNAUTHENTICATED.
  EXPECT_EQ(auth::Verify(*keys_, capability, clock_.Now(), kHere).status().code(),
            absl::StatusCode::kUnauthenticated);
  clock_.Advance(absl::Minutes(3));
  EXPECT_EQ(auth::Verify(*keys_, capability, clock_.Now(), kThere).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerHooksTest, LocalTasksCarryNoCapability) {
  v1::Task task;
  task.set_kind(v1::TASK_KIND_COPY_FILES);
  *task.add_files() = FileOf("/data/a/f", "/home/alice/copy/f", 10);
  ASSERT_TRUE(tasks_->Authorize(AliceTransfer(), &task).ok());
  EXPECT_FALSE(task.files(0).has_source_capability());
}

// Setting directories' attributes reads nothing from the source: a remote
// FINALIZE_DIRS task gets no capability, but its files are still checked against the
// policy (a directory outside the grant is refused).
TEST_F(AuthorizerHooksTest, FinalizeDirsCarriesNoCapabilityButIsChecked) {
  v1::Task task;
  task.set_kind(v1::TASK_KIND_FINALIZE_DIRS);
  task.add_source_data_addresses("127.0.0.1:1");
  *task.add_files() = FileOf("/data/a/dir", "/home/alice/copy/dir", 0);
  *task.add_files() = FileOf("/data/a/dir/sub", "/home/alice/copy/dir/sub", 0);
  ASSERT_TRUE(tasks_->Authorize(AliceTransfer(), &task).ok());
  for (const v1::FileTask& file : task.files()) {
    EXPECT_FALSE(file.has_source_capability()) << file.destination_path();
  }

  *task.add_files() = FileOf("/data/a/dir2", "/home/bob/dir2", 0);  // Not alice's.
  const absl::Status status = tasks_->Authorize(AliceTransfer(), &task);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/home/bob/dir2"));
  EXPECT_TRUE(LastAuditDenied());
}

TEST_F(AuthorizerHooksTest, PlanningListCapabilityCoversTheRootOnly) {
  absl::StatusOr<v1::Capability> capability =
      issuer_->ForList("t-1", kAlice, kThere, "/data/a");
  ASSERT_TRUE(capability.ok()) << capability.status();
  absl::StatusOr<v1::CapabilityClaims> claims =
      auth::Verify(*keys_, *capability, clock_.Now(), kThere);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_TRUE(auth::CheckList(*claims, "/data/a/sub").ok());
  EXPECT_EQ(auth::CheckList(*claims, "/data/ab").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth::CheckList(*claims, "/data").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth::CheckRead(*claims, "/data/a/f", 0, 1).code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace ferry::controller
