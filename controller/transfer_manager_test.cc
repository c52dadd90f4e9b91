#include "controller/transfer_manager.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::CopyRequest;
using testing::HeartbeatOf;
using testing::ReportOf;
using testing::Directory;
using testing::RegularFile;

using TransferManagerTest = testing::ControllerTest;

constexpr int32_t kOk = 0;
constexpr int32_t kFailedPrecondition =
    static_cast<int32_t>(absl::StatusCode::kFailedPrecondition);

bool HasError(const v1::Transfer& transfer, absl::StatusCode code,
              const std::string& path = "") {
  for (const v1::Error& error : transfer.errors()) {
    if (error.code() == static_cast<int32_t>(code) && (path.empty() || error.path() == path)) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Ids(const v1::ListTransfersResponse& response) {
  std::vector<std::string> ids;
  for (const v1::Transfer& transfer : response.transfers()) ids.push_back(transfer.id());
  return ids;
}

// ---------------------------------------------------------------- CreateTransfer

TEST_F(TransferManagerTest, CreateRejectsMalformedRequestsNamingTheField) {
  struct Case {
    std::string what;
    v1::CreateTransferRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  auto add = [&cases](std::string what, std::string field, auto mutate) {
    v1::CreateTransferRequest request = CopyRequest("r1", "/src", "/dst");
    mutate(&request);
    cases.push_back({std::move(what), std::move(request), std::move(field)});
  };
  using Request = v1::CreateTransferRequest;
  add("no request_id", "request_id", [](Request* r) { r->clear_request_id(); });
  add("request_id with a space", "request_id", [](Request* r) { r->set_request_id("a b"); });
  add("request_id too long", "request_id",
      [](Request* r) { r->set_request_id(std::string(129, 'x')); });
  add("no source", "source", [](Request* r) { r->clear_source(); });
  add("relative source", "source.path",
      [](Request* r) { r->mutable_source()->set_path("src"); });
  add("source with ..", "source.path",
      [](Request* r) { r->mutable_source()->set_path("/src/../etc"); });
  add("bad source cluster", "source.cluster",
      [](Request* r) { r->mutable_source()->set_cluster("Local"); });
  add("no destinations", "destinations", [](Request* r) { r->clear_destinations(); });
  add("bad destination path", "destinations[0].path",
      [](Request* r) { r->mutable_destinations(0)->set_path("/dst//x"); });
  add("destination is the source", "destinations[0].path",
      [](Request* r) { r->mutable_destinations(0)->set_path("/src"); });
  add("destination inside the source", "destinations[0].path",
      [](Request* r) { r->mutable_destinations(0)->set_path("/src/sub/dir"); });
  add("source is the root", "destinations[0].path",
      [](Request* r) { r->mutable_source()->set_path("/"); });
  add("upper-case label key", "labels",
      [](Request* r) { (*r->mutable_labels())["Team"] = "x"; });
  add("empty label key", "labels", [](Request* r) { (*r->mutable_labels())[""] = "x"; });
  add("long label value", "labels",
      [](Request* r) { (*r->mutable_labels())["team"] = std::string(257, 'v'); });
  add("too many labels", "labels", [](Request* r) {
    for (int i = 0; i < 17; ++i) (*r->mutable_labels())[absl::StrCat("k", i)] = "v";
  });
  for (const Case& c : cases) {
    absl::StatusOr<v1::Transfer> transfer = manager_->CreateTransfer("alice", c.request);
    EXPECT_EQ(transfer.status().code(), absl::StatusCode::kInvalidArgument)
        << c.what << ": " << transfer.status();
    EXPECT_TRUE(absl::StartsWith(transfer.status().message(), c.field + ":") ||
                absl::StartsWith(transfer.status().message(), c.field + "["))
        << c.what << ": " << transfer.status();
  }
  // Nothing was persisted.
  v1::ListTransfersRequest list;
  list.set_all_users(true);
  absl::StatusOr<v1::ListTransfersResponse> listed = manager_->ListTransfers("alice", list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->transfers_size(), 0);
}

TEST_F(TransferManagerTest, CreateAcceptsASiblingWhoseNameExtendsTheSource) {
  // "/srcx" shares the prefix "/src" but is not inside it.
  absl::StatusOr<v1::Transfer> transfer =
      manager_->CreateTransfer("alice", CopyRequest("r1", "/src", "/srcx"));
  EXPECT_TRUE(transfer.ok()) << transfer.status();
}

TEST_F(TransferManagerTest, CreateRefusesClustersThisControllerDoesNotOwn) {
  v1::CreateTransferRequest request = CopyRequest("r1", "/src", "/dst");
  request.mutable_destinations(0)->set_cluster("elsewhere");
  absl::StatusOr<v1::Transfer> transfer = manager_->CreateTransfer("alice", request);
  EXPECT_EQ(transfer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(transfer.status().message(), "destinations[0].cluster"))
      << transfer.status();

  request = CopyRequest("r1", "/src", "/dst");
  request.mutable_source()->set_cluster("elsewhere");
  transfer = manager_->CreateTransfer("alice", request);
  EXPECT_EQ(transfer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(transfer.status().message(), "source.cluster"))
      << transfer.status();
}

TEST_F(TransferManagerTest, SamePathInAnotherClusterIsNotAnOverlap) {
  options_.peers["a"] = {"10.0.0.1:7000"};
  Open();
  v1::CreateTransferRequest request = CopyRequest("same-path", "/data/x", "/data/x");
  request.mutable_source()->set_cluster("a");
  EXPECT_TRUE(manager_->CreateTransfer("alice", request).ok());
  // Within one cluster the same path is still refused.
  EXPECT_EQ(manager_->CreateTransfer("alice", CopyRequest("self", "/data/x", "/data/x"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TransferManagerTest, APeerSourceIsAcceptedAndItsTasksCarryThePeerAddresses) {
  options_.peers["a"] = {"10.0.0.1:7000", "10.0.0.2:7000"};
  Open();
  v1::CreateTransferRequest request = CopyRequest("r1", "/src", "/dst");
  request.mutable_source()->set_cluster("a");
  absl::StatusOr<v1::Transfer> transfer = manager_->CreateTransfer("alice", request);
  ASSERT_TRUE(transfer.ok()) << transfer.status();
  const std::string worker = RegisterWorker();
  Plan(transfer->id(), {Directory(""), RegularFile("f", 10)});
  std::vector<v1::Task> tasks = Lease(worker);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source_cluster(), "a");
  EXPECT_EQ(std::vector<std::string>(tasks[0].source_data_addresses().begin(),
                                     tasks[0].source_data_addresses().end()),
            (std::vector<std::string>{"10.0.0.1:7000", "10.0.0.2:7000"}));

  // A source in this cluster is read from the worker's own root: no addresses.
  ASSERT_TRUE(manager_->CreateTransfer("alice", CopyRequest("r2", "/src", "/dst2")).ok());
  Plan(TransferId(2), {RegularFile("", 10)});
  tasks = Lease(worker);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].source_cluster(), testing::kCluster);
  EXPECT_TRUE(tasks[0].source_data_addresses().empty());

  // Clusters that are neither this one nor a peer stay unknown, naming the known ones.
  request = CopyRequest("r3", "/src", "/dst3");
  request.mutable_source()->set_cluster("b");
  transfer = manager_->CreateTransfer("alice", request);
  EXPECT_EQ(transfer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(transfer.status().message(), "source.cluster"))
      << transfer.status();
  EXPECT_TRUE(absl::StrContains(transfer.status().message(), "'local', 'a'"))
      << transfer.status();
}

TEST_F(TransferManagerTest, CreateReturnsAPendingTransferWithDefaults) {
  absl::StatusOr<v1::Transfer> transfer =
      manager_->CreateTransfer("alice", CopyRequest("r1", "/src", "/dst"));
  ASSERT_TRUE(transfer.ok()) << transfer.status();
  EXPECT_EQ(transfer->id(), TransferId(1));
  EXPECT_EQ(transfer->user(), "alice");
  EXPECT_EQ(transfer->request_id(), "r1");
  EXPECT_EQ(transfer->state(), v1::TRANSFER_STATE_PENDING);
  EXPECT_EQ(transfer->overwrite(), v1::OVERWRITE_POLICY_NEVER);
  EXPECT_EQ(transfer->priority(), v1::PRIORITY_CLASS_BATCH);
  EXPECT_EQ(transfer->create_time().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // It waits for the planning loop.
  EXPECT_EQ(manager_->NextTransferToPlan(clock_.Now()), transfer->id());
}

TEST_F(TransferManagerTest, SameRequestIdAndRequestReturnsTheSameTransfer) {
  // A minimal request, as a pipeline might send it: no preserve flags, no priority.
  v1::CreateTransferRequest request = CopyRequest("r1", "/src", "/dst");
  (*request.mutable_labels())["team"] = "storage";
  (*request.mutable_labels())["job"] = "nightly";
  absl::StatusOr<v1::Transfer> first = manager_->CreateTransfer("alice", request);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Transfer> retry = manager_->CreateTransfer("alice", request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id(), first->id());
  // Spelling out the defaults is the same request too.
  request.set_overwrite(v1::OVERWRITE_POLICY_NEVER);
  request.set_priority(v1::PRIORITY_CLASS_BATCH);
  request.mutable_preserve();
  retry = manager_->CreateTransfer("alice", request);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id(), first->id());
  // Another user's request id is another namespace.
  absl::StatusOr<v1::Transfer> bobs = manager_->CreateTransfer("bob", request);
  ASSERT_TRUE(bobs.ok()) << bobs.status();
  EXPECT_NE(bobs->id(), first->id());
}

TEST_F(TransferManagerTest, SameRequestIdWithADifferentRequestIsAlreadyExists) {
  ASSERT_TRUE(manager_->CreateTransfer("alice", CopyRequest("r1", "/src", "/dst")).ok());
  v1::CreateTransferRequest other = CopyRequest("r1", "/src", "/elsewhere");
  EXPECT_EQ(manager_->CreateTransfer("alice", other).status().code(),
            absl::StatusCode::kAlreadyExists);
  other = CopyRequest("r1", "/src", "/dst");
  other.set_dry_run(true);
  EXPECT_EQ(manager_->CreateTransfer("alice", other).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(TransferManagerTest, AcknowledgedTransferSurvivesARestart) {
  absl::StatusOr<v1::Transfer> created =
      manager_->CreateTransfer("alice", CopyRequest("r1", "/src", "/dst"));
  ASSERT_TRUE(created.ok()) << created.status();
  Restart();
  absl::StatusOr<v1::Transfer> read = manager_->GetTransfer(created->id());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->state(), v1::TRANSFER_STATE_PENDING);
  EXPECT_EQ(read->source().path(), "/src");
  EXPECT_EQ(read->destinations(0).path(), "/dst");
  // Recover queued it for planning again.
  EXPECT_EQ(manager_->NextTransferToPlan(clock_.Now()), created->id());
  // The request id is remembered, and numbering continues after it.
  absl::StatusOr<v1::Transfer> retry =
      manager_->CreateTransfer("alice", CopyRequest("r1", "/src", "/dst"));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id(), created->id());
  absl::StatusOr<v1::Transfer> next =
      manager_->CreateTransfer("alice", CopyRequest("r2", "/src", "/dst"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id(), TransferId(2));
}

TEST_F(TransferManagerTest, GetOfAnUnknownTransferIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(manager_->GetTransfer(TransferId(99)).status()));
}

// ---------------------------------------------------------------- tasks and leases

TEST_F(TransferManagerTest, PlannedTasksRunToSuccess) {
  options_.plan_limits.max_files_per_task = 2;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {Directory(""), RegularFile("a", 100), RegularFile("b", 200)});
  v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);
  EXPECT_EQ(transfer.progress().files_total(), 3);
  EXPECT_EQ(transfer.progress().bytes_total(), 300);
  EXPECT_TRUE(transfer.progress().listing_complete());

  const std::vector<v1::Task> tasks = Lease(worker);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0].task_id(), TaskKey(id, 0));
  EXPECT_EQ(tasks[0].transfer_id(), id);
  EXPECT_EQ(tasks[0].lease_generation(), 1u);
  EXPECT_EQ(tasks[0].attempt(), 1);
  EXPECT_EQ(tasks[0].overwrite(), v1::OVERWRITE_POLICY_NEVER);
  EXPECT_EQ(tasks[0].lease_expiry().seconds(),
            absl::ToUnixSeconds(clock_.Now() + options_.lease_duration));
  ASSERT_EQ(tasks[0].files_size(), 2);
  EXPECT_EQ(tasks[0].files(0).destination_path(), "/dst");
  EXPECT_EQ(tasks[0].files(1).destination_path(), "/dst/a");
  EXPECT_EQ(tasks[1].files(0).source_path(), "/src/b");
  EXPECT_TRUE(Lease(worker).empty());  // Everything is leased.

  EXPECT_EQ(ReportSuccess(worker, tasks[0]).code(), kOk);
  transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);
  EXPECT_EQ(transfer.progress().files_done(), 2);
  EXPECT_EQ(ReportSuccess(worker, tasks[1]).code(), kOk);
  transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_done(), 3);
  EXPECT_EQ(transfer.progress().bytes_done(), 300);
  EXPECT_EQ(transfer.progress().files_failed(), 0);
  EXPECT_EQ(transfer.progress().retries(), 0);
  EXPECT_EQ(transfer.files_verified(), 2);  // The regular files.
  EXPECT_TRUE(transfer.has_end_time());
  EXPECT_TRUE(transfer.errors().empty());
}

TEST_F(TransferManagerTest, HigherPriorityTasksAreLeasedFirst) {
  const std::string worker = RegisterWorker();
  const std::string batch_id = CreateTransfer("batch");
  v1::CreateTransferRequest urgent = CopyRequest("urgent", "/src", "/dst2");
  urgent.set_priority(v1::PRIORITY_CLASS_GUARANTEED);
  absl::StatusOr<v1::Transfer> urgent_transfer = manager_->CreateTransfer("bob", urgent);
  ASSERT_TRUE(urgent_transfer.ok()) << urgent_transfer.status();
  Plan(batch_id, {RegularFile("", 1)});
  Plan(urgent_transfer->id(), {RegularFile("", 1)});
  std::vector<v1::Task> first = Lease(worker, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].transfer_id(), urgent_transfer->id());
  std::vector<v1::Task> second = Lease(worker, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].transfer_id(), batch_id);
}

TEST_F(TransferManagerTest, StaleGenerationReportIsRejectedAndChangesNothing) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  const v1::Transfer before = Get(id);
  for (uint64_t generation : {task.lease_generation() - 1, task.lease_generation() + 1}) {
    v1::Task stale = task;
    stale.set_lease_generation(generation);
    EXPECT_EQ(ReportSuccess(worker, stale).code(), kFailedPrecondition) << generation;
    EXPECT_EQ(ReportTaskError(worker, stale, absl::StatusCode::kNotFound).code(),
              kFailedPrecondition);
  }
  EXPECT_TRUE(MessageDifferencer::Equals(Get(id), before)) << Get(id).DebugString();
  // The lease still stands: the right generation is accepted.
  EXPECT_EQ(ReportSuccess(worker, task).code(), kOk);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
}

TEST_F(TransferManagerTest, DuplicateReportIsIdempotent) {
  const auto [worker, id, task] = StartOneTask({Directory(""), RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportSuccess(worker, task).code(), kOk);
  const v1::Transfer after_first = Get(id);
  EXPECT_EQ(ReportSuccess(worker, task).code(), kOk);
  const v1::Transfer after_second = Get(id);
  EXPECT_EQ(after_second.progress().files_done(), 2);
  EXPECT_EQ(after_second.progress().bytes_done(), 10);
  EXPECT_TRUE(MessageDifferencer::Equals(after_first, after_second));
}

TEST_F(TransferManagerTest, RetryWaitsOutItsBackoffBeforeItIsLeasedAgain) {
  options_.retry_backoff_base = absl::Seconds(4);
  options_.retry_backoff_max = absl::Seconds(60);
  Open();
  const auto [worker, id, task] = StartOneTask({Directory(""), RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportTaskError(worker, task, absl::StatusCode::kUnavailable).code(), kOk);
  // Jitter puts the first retry in [2 s, 4 s).
  clock_.Advance(absl::Milliseconds(1999));
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(Lease(worker).empty());
  clock_.Advance(absl::Seconds(2));
  manager_->ExpireWorkersAndLeases();
  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), task.task_id());
}

TEST_F(TransferManagerTest, DelayedRetryOfACancelledTransferNeverRuns) {
  options_.retry_backoff_base = absl::Seconds(1);
  Open();
  const auto [worker, id, task] = StartOneTask({Directory(""), RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportTaskError(worker, task, absl::StatusCode::kUnavailable).code(), kOk);
  ASSERT_TRUE(manager_->CancelTransfer("alice", id, "").ok());
  clock_.Advance(absl::Seconds(5));
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, RetryableErrorRequeuesTheTaskAndCountsTheRetry) {
  const auto [worker, id, task] = StartOneTask({Directory(""), RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportTaskError(worker, task, absl::StatusCode::kUnavailable).code(), kOk);
  v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);
  EXPECT_EQ(transfer.progress().retries(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 0);

  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), task.task_id());
  EXPECT_EQ(again[0].lease_generation(), task.lease_generation() + 1);
  EXPECT_EQ(again[0].attempt(), 2);
  EXPECT_EQ(again[0].files_size(), 2);
  EXPECT_EQ(ReportSuccess(worker, again[0]).code(), kOk);
  transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().retries(), 1);
  EXPECT_EQ(transfer.progress().files_done(), 2);
}

TEST_F(TransferManagerTest, OnlyTheFilesThatFailedRetryablyAreRetried) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10), RegularFile("b", 20)});
  ASSERT_FALSE(HasFailure());
  v1::TaskReport report = ReportOf(task);
  report.add_files()->set_bytes(10);
  report.add_files()->set_code(static_cast<int32_t>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Report(worker, report).code(), kOk);
  EXPECT_EQ(Get(id).progress().files_done(), 1);

  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].files_size(), 1);
  EXPECT_EQ(again[0].files(0).source_path(), "/src/b");
  EXPECT_EQ(ReportSuccess(worker, again[0]).code(), kOk);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_done(), 2);
  EXPECT_EQ(transfer.progress().bytes_done(), 30);
  EXPECT_EQ(transfer.progress().retries(), 1);
}

TEST_F(TransferManagerTest, AChangedSourceIsCopiedAgainAsItIsNow) {
  options_.retry_backoff_base = absl::ZeroDuration();
  Open();
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  v1::TaskReport report = ReportOf(task);
  v1::FileResult* changed = report.add_files();
  changed->set_code(static_cast<int32_t>(absl::StatusCode::kFailedPrecondition));
  changed->set_message("source changed (modified while being copied): /src/a");
  changed->set_source_changed(true);
  *changed->mutable_source_now() = task.files(0).source_info();
  changed->mutable_source_now()->set_size(25);
  changed->mutable_source_now()->set_mtime_ns(task.files(0).source_info().mtime_ns() + 1);
  changed->mutable_source_now()->set_path("ignored");
  EXPECT_EQ(Report(worker, report).code(), kOk);

  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].files_size(), 1);
  EXPECT_EQ(again[0].files(0).source_info().size(), 25u);
  EXPECT_EQ(again[0].files(0).source_info().mtime_ns(),
            task.files(0).source_info().mtime_ns() + 1);
  EXPECT_EQ(again[0].files(0).source_info().path(), task.files(0).source_info().path());
  EXPECT_EQ(Get(id).progress().retries(), 1);
}

TEST_F(TransferManagerTest, FailedPreconditionWithoutTheSourceChangedSignalFailsTheFile) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  v1::TaskReport report = ReportOf(task);
  v1::FileResult* conflict = report.add_files();
  conflict->set_code(static_cast<int32_t>(absl::StatusCode::kFailedPrecondition));
  conflict->set_message("source changed: but only in words");
  EXPECT_EQ(Report(worker, report).code(), kOk);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, PermanentFileErrorFailsThatFileAtOnce) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10), RegularFile("gone", 20)});
  ASSERT_FALSE(HasFailure());
  v1::TaskReport report = ReportOf(task);
  report.add_files()->set_bytes(10);
  v1::FileResult* missing = report.add_files();
  missing->set_code(static_cast<int32_t>(absl::StatusCode::kNotFound));
  missing->set_message("no such file");
  EXPECT_EQ(Report(worker, report).code(), kOk);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_done(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().retries(), 0);
  EXPECT_TRUE(HasError(transfer, absl::StatusCode::kNotFound, "/src/gone"));
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, PermanentTaskErrorFailsEveryFileOfTheTask) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10), RegularFile("b", 20)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportTaskError(worker, task, absl::StatusCode::kPermissionDenied).code(),
            kOk);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_failed(), 2);
  EXPECT_EQ(transfer.progress().retries(), 0);
  EXPECT_TRUE(HasError(transfer, absl::StatusCode::kPermissionDenied, "/src/a"));
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, ExhaustedRetryBudgetFailsTheTask) {
  options_.max_attempts = 3;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {RegularFile("a", 10)});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::vector<v1::Task> tasks = Lease(worker);
    ASSERT_EQ(tasks.size(), 1u) << attempt;
    EXPECT_EQ(tasks[0].attempt(), attempt);
    EXPECT_EQ(ReportTaskError(worker, tasks[0], absl::StatusCode::kUnavailable).code(), kOk);
    EXPECT_EQ(Get(id).state(), attempt < 3 ? v1::TRANSFER_STATE_RUNNING
                                           : v1::TRANSFER_STATE_FAILED);
  }
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.progress().retries(), 2);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_TRUE(HasError(transfer, absl::StatusCode::kUnavailable, "/src/a"));
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, AFullDestinationIsWaitedOutBeyondTheAttemptLimit) {
  options_.max_attempts = 3;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {RegularFile("a", 10)});
  for (int attempt = 1; attempt <= 6; ++attempt) {
    std::vector<v1::Task> tasks = Lease(worker);
    ASSERT_EQ(tasks.size(), 1u) << attempt;
    EXPECT_EQ(ReportTaskError(worker, tasks[0], absl::StatusCode::kResourceExhausted).code(),
              kOk);
    EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING) << attempt;
  }
  std::vector<v1::Task> tasks = Lease(worker);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].attempt(), 7);
  EXPECT_EQ(ReportSuccess(worker, tasks[0]).code(), kOk);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().retries(), 6);
  EXPECT_EQ(transfer.progress().files_done(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 0);
}

TEST_F(TransferManagerTest, ExpiredLeaseIsRequeuedAndTheOldGenerationRejected) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  // The worker stays alive but stops extending the lease.
  const v1::HeartbeatRequest alive = HeartbeatOf(worker);
  const absl::Duration step = options_.worker_timeout / 2;
  while (clock_.Now() < absl::FromUnixSeconds(task.lease_expiry().seconds())) {
    manager_->ExpireWorkersAndLeases();
    EXPECT_TRUE(Lease(worker).empty());  // Not requeued before expiry.
    clock_.Advance(step);
    ASSERT_TRUE(manager_->Heartbeat(alive).ok());
  }
  manager_->ExpireWorkersAndLeases();
  EXPECT_EQ(Get(id).progress().retries(), 1);

  // The old incarnation of the lease is told to stop, and its report is refused.
  absl::StatusOr<v1::HeartbeatResponse> heartbeat =
      manager_->Heartbeat(HeartbeatOf(worker, {task}));
  ASSERT_TRUE(heartbeat.ok()) << heartbeat.status();
  ASSERT_EQ(heartbeat->abort_task_ids_size(), 1);
  EXPECT_EQ(heartbeat->abort_task_ids(0), task.task_id());
  EXPECT_EQ(ReportSuccess(worker, task).code(), kFailedPrecondition);

  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), task.task_id());
  EXPECT_EQ(again[0].lease_generation(), task.lease_generation() + 1);
  EXPECT_EQ(ReportSuccess(worker, task).code(), kFailedPrecondition);
  EXPECT_EQ(Get(id).progress().files_done(), 0);
  EXPECT_EQ(ReportSuccess(worker, again[0]).code(), kOk);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
}

TEST_F(TransferManagerTest, HeartbeatExtendsTheLeasesOfRunningTasks) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  const v1::HeartbeatRequest heartbeat = HeartbeatOf(worker, {task});
  for (int i = 0; i < 20; ++i) {  // Well past one lease duration.
    clock_.Advance(options_.heartbeat_interval);
    absl::StatusOr<v1::HeartbeatResponse> response = manager_->Heartbeat(heartbeat);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->extended_size(), 1);
    EXPECT_EQ(response->extended(0).expiry().seconds(),
              absl::ToUnixSeconds(clock_.Now() + options_.lease_duration));
    manager_->ExpireWorkersAndLeases();
  }
  ASSERT_GT(clock_.Now() - absl::FromUnixSeconds(task.lease_expiry().seconds()),
            absl::ZeroDuration());
  EXPECT_EQ(ReportSuccess(worker, task).code(), kOk);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Get(id).progress().retries(), 0);
}

TEST_F(TransferManagerTest, SilentWorkerIsDroppedAndItsTasksRequeued) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  clock_.Advance(options_.worker_timeout + absl::Seconds(1));
  const std::string other = RegisterWorker("copyd-2");
  manager_->ExpireWorkersAndLeases();

  EXPECT_TRUE(absl::IsNotFound(manager_->Heartbeat(HeartbeatOf(worker)).status()));
  v1::LeaseTasksRequest lease;
  lease.set_worker_id(worker);
  lease.set_max_tasks(1);
  EXPECT_TRUE(absl::IsNotFound(manager_->LeaseTasks(lease).status()));
  // The surviving worker gets the task under a new generation.
  std::vector<v1::Task> again = Lease(other);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), task.task_id());
  EXPECT_EQ(again[0].lease_generation(), task.lease_generation() + 1);
  EXPECT_EQ(ReportSuccess(worker, task).code(), kFailedPrecondition);
  EXPECT_EQ(ReportSuccess(other, again[0]).code(), kOk);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
}

TEST_F(TransferManagerTest, ReRegisteringANameReleasesThePreviousIncarnationsLeases) {
  const auto [old_worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  // copyd-1 restarted: it lost its work in progress.
  const std::string new_worker = RegisterWorker("copyd-1");
  EXPECT_NE(new_worker, old_worker);
  EXPECT_TRUE(absl::IsNotFound(manager_->Heartbeat(HeartbeatOf(old_worker)).status()));
  std::vector<v1::Task> again = Lease(new_worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].lease_generation(), task.lease_generation() + 1);
  EXPECT_EQ(ReportSuccess(old_worker, task).code(), kFailedPrecondition);
  EXPECT_EQ(Get(id).progress().retries(), 1);
}

TEST_F(TransferManagerTest, WorkerRegistrationIsValidated) {
  v1::RegisterWorkerRequest request;
  request.set_worker_name("copyd 1");
  request.set_cluster(testing::kCluster);
  request.set_data_address("h:1");
  request.set_max_concurrent_tasks(1);
  EXPECT_EQ(manager_->RegisterWorker(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_worker_name("copyd-1");
  request.set_cluster("elsewhere");
  EXPECT_EQ(manager_->RegisterWorker(request).status().code(),
            absl::StatusCode::kFailedPrecondition);
  request.set_cluster(testing::kCluster);
  request.set_max_concurrent_tasks(0);
  EXPECT_EQ(manager_->RegisterWorker(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- cancel

TEST_F(TransferManagerTest, CancelDropsQueuedWorkAndIsIdempotent) {
  options_.plan_limits.max_files_per_task = 1;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {RegularFile("a", 1), RegularFile("b", 1), RegularFile("c", 1)});
  std::vector<v1::Task> leased = Lease(worker, 1);
  ASSERT_EQ(leased.size(), 1u);

  absl::StatusOr<v1::Transfer> cancelled = manager_->CancelTransfer("alice", id, "oops");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), v1::TRANSFER_STATE_CANCELLED);
  EXPECT_TRUE(cancelled->has_end_time());
  ASSERT_TRUE(HasError(*cancelled, absl::StatusCode::kCancelled));
  EXPECT_NE(cancelled->errors().rbegin()->message().find("oops"), std::string::npos);
  EXPECT_TRUE(Lease(worker).empty());

  // The running task is told to stop; its late report changes no counter.
  absl::StatusOr<v1::HeartbeatResponse> response =
      manager_->Heartbeat(HeartbeatOf(worker, leased));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->abort_task_ids_size(), 1);
  EXPECT_EQ(response->abort_task_ids(0), leased[0].task_id());
  ReportSuccess(worker, leased[0]);
  EXPECT_EQ(Get(id).progress().files_done(), 0);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_CANCELLED);

  const v1::Transfer before = Get(id);
  absl::StatusOr<v1::Transfer> again = manager_->CancelTransfer("alice", id, "again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state(), v1::TRANSFER_STATE_CANCELLED);
  EXPECT_EQ(again->errors_size(), before.errors_size());

  // Durable: after a restart nothing of it runs.
  Restart();
  const std::string new_worker = RegisterWorker();
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_CANCELLED);
  EXPECT_TRUE(Lease(new_worker).empty());
  EXPECT_FALSE(manager_->NextTransferToPlan(clock_.Now()).has_value());
}

TEST_F(TransferManagerTest, CancelAfterSuccessIsFailedPrecondition) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 1)});
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(ReportSuccess(worker, task).code(), kOk);
  ASSERT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(manager_->CancelTransfer("alice", id, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_TRUE(absl::IsNotFound(manager_->CancelTransfer("alice", TransferId(9), "").status()));
}

// ---------------------------------------------------------------- list

TEST_F(TransferManagerTest, ListIsNewestFirstWithPagingAndStateFilter) {
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) ids.push_back(CreateTransfer(absl::StrCat("r", i)));
  ASSERT_TRUE(manager_->CreateTransfer("bob", CopyRequest("b1", "/src", "/dst")).ok());
  ASSERT_TRUE(manager_->CancelTransfer("alice", ids[1], "").ok());
  ASSERT_TRUE(manager_->CancelTransfer("alice", ids[3], "").ok());

  v1::ListTransfersRequest request;
  request.set_page_size(2);
  std::vector<std::vector<std::string>> pages;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<v1::ListTransfersResponse> page = manager_->ListTransfers("alice", request);
    ASSERT_TRUE(page.ok()) << page.status();
    pages.push_back(Ids(*page));
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(pages, (std::vector<std::vector<std::string>>{
                       {ids[4], ids[3]}, {ids[2], ids[1]}, {ids[0]}}));

  v1::ListTransfersRequest cancelled;
  cancelled.add_states(v1::TRANSFER_STATE_CANCELLED);
  cancelled.set_page_size(2);
  absl::StatusOr<v1::ListTransfersResponse> page = manager_->ListTransfers("alice", cancelled);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{ids[3], ids[1]}));
  EXPECT_TRUE(page->next_page_token().empty());  // Nothing more matches.

  v1::ListTransfersRequest pending;
  pending.add_states(v1::TRANSFER_STATE_PENDING);
  page = manager_->ListTransfers("alice", pending);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{ids[4], ids[2], ids[0]}));
}

TEST_F(TransferManagerTest, ListRejectsBadPagingArguments) {
  v1::ListTransfersRequest request;
  request.set_page_size(1001);
  EXPECT_EQ(manager_->ListTransfers("alice", request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_page_size(-1);
  EXPECT_EQ(manager_->ListTransfers("alice", request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_page_size(0);
  request.set_page_token("garbage");
  EXPECT_EQ(manager_->ListTransfers("alice", request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- dry run, restart

TEST_F(TransferManagerTest, DryRunPlansAndSucceedsWithTotalsButLeasesNothing) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1", /*dry_run=*/true);
  Plan(id, {Directory(""), RegularFile("a", 100), RegularFile("b", 23)});
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_total(), 3);
  EXPECT_EQ(transfer.progress().bytes_total(), 123);
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_EQ(transfer.progress().bytes_done(), 0);
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, DryRunStaysRunningUntilTheListingCompletes) {
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1", /*dry_run=*/true);
  Plan(id, {Directory("")}, /*listing_complete=*/false);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);
  FERRY_ASSERT_OK(manager_->AddPlannedEntries(id, {RegularFile("a", 5)}, "c2", false, true));
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_total(), 2);
  EXPECT_EQ(transfer.progress().bytes_total(), 5);
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(TransferManagerTest, RestartKeepsTheLeaseAndAcceptsItsGenerationsReport) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10), RegularFile("b", 5)});
  ASSERT_FALSE(HasFailure());

  Restart();
  // Workers are not persisted: the old incarnation must register again ...
  EXPECT_TRUE(absl::IsNotFound(manager_->Heartbeat(HeartbeatOf(worker)).status()));
  // ... but its lease is, so nobody else gets the task ...
  const std::string new_worker = RegisterWorker();
  EXPECT_TRUE(Lease(new_worker).empty());
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(Lease(new_worker).empty());
  // ... and the work finished across the restart counts.
  EXPECT_EQ(ReportSuccess(worker, task).code(), kOk);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_done(), 2);
  EXPECT_EQ(transfer.progress().bytes_done(), 15);
}

TEST_F(TransferManagerTest, RecoveredLeaseExpiresIfNobodyReports) {
  const auto [worker, id, task] = StartOneTask({RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());

  Restart();
  const std::string new_worker = RegisterWorker("copyd-2");
  clock_.Advance(options_.lease_duration + absl::Seconds(1));
  ASSERT_TRUE(manager_->Heartbeat(HeartbeatOf(new_worker)).ok());
  manager_->ExpireWorkersAndLeases();
  std::vector<v1::Task> again = Lease(new_worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].lease_generation(), task.lease_generation() + 1);
  EXPECT_EQ(ReportSuccess(worker, task).code(), kFailedPrecondition);
}

TEST_F(TransferManagerTest, RestartRequeuesTransfersWhoseListingIsIncomplete) {
  const std::string done_listing = CreateTransfer("r1");
  const std::string mid_listing = CreateTransfer("r2");
  Plan(done_listing, {RegularFile("", 1)}, /*listing_complete=*/true);
  Plan(mid_listing, {Directory("")}, /*listing_complete=*/false);
  while (manager_->NextTransferToPlan(clock_.Now()).has_value()) {
  }
  Restart();
  EXPECT_EQ(manager_->NextTransferToPlan(clock_.Now()), mid_listing);
  EXPECT_FALSE(manager_->NextTransferToPlan(clock_.Now()).has_value());
}

}  // namespace
}  // namespace ferry::controller

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::RegularFile;

class HousekeepingTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.stall_after = absl::Seconds(60);
    options_.retention = absl::Hours(1);
    options_.worker_timeout = absl::Hours(1);
    options_.lease_duration = absl::Hours(1);
    Open();
  }
};

TEST_F(HousekeepingTest, TransferWithoutWorkersIsReportedStalled) {
  const std::string id = CreateTransfer("stall-1");
  ASSERT_TRUE(manager_->AddPlannedEntries(id, {Directory(""), RegularFile("a", 1)}, "",
                                          true, true)
                  .ok());
  manager_->ExpireWorkersAndLeases();
  EXPECT_EQ(Get(id).stalled_reason(), "");
  clock_.Advance(absl::Seconds(61));
  manager_->ExpireWorkersAndLeases();
  EXPECT_NE(Get(id).stalled_reason().find("no copyd workers"), std::string::npos)
      << Get(id).stalled_reason();
}

TEST_F(HousekeepingTest, FailingRetriesAreTheStallReasonUntilProgressResumes) {
  const auto [worker, id, task] = StartOneTask({Directory(""), RegularFile("a", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportTaskError(worker, task, absl::StatusCode::kUnavailable).code(), 0);
  clock_.Advance(absl::Seconds(61));
  manager_->Heartbeat(testing::HeartbeatOf(worker)).IgnoreError();
  manager_->ExpireWorkersAndLeases();
  const std::string reason = Get(id).stalled_reason();
  EXPECT_NE(reason.find("retries failing"), std::string::npos) << reason;
  EXPECT_NE(reason.find("no progress for 1m"), std::string::npos) << reason;

  std::vector<v1::Task> again = Lease(worker);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(ReportSuccess(worker, again[0]).code(), 0);
  manager_->ExpireWorkersAndLeases();
  const v1::Transfer done = Get(id);
  EXPECT_EQ(done.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(done.stalled_reason(), "");
}

TEST_F(HousekeepingTest, EndedTransfersAreDeletedAfterRetention) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(ReportSuccess(worker, task).code(), 0);
  ASSERT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  const std::string request_id = Get(id).request_id();
  clock_.Advance(absl::Minutes(59));
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(manager_->GetTransfer(id).ok());  // Still within retention.

  clock_.Advance(absl::Minutes(2));
  manager_->ExpireWorkersAndLeases();
  EXPECT_EQ(manager_->GetTransfer(id).status().code(), absl::StatusCode::kNotFound);
  TaskRecord gone;
  EXPECT_EQ(store_->Get(Family::kTasks, task.task_id(), &gone).code(),
            absl::StatusCode::kNotFound);
  // Its request_id is free again: a new request makes a new transfer.
  absl::StatusOr<v1::Transfer> again =
      manager_->CreateTransfer("alice", testing::CopyRequest(request_id, "/src", "/dst"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(again->id(), id);
}

TEST_F(HousekeepingTest, RunningTransfersAreNeverCollected) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  clock_.Advance(absl::Hours(48));
  manager_->Heartbeat(testing::HeartbeatOf(worker, {task})).IgnoreError();
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(manager_->GetTransfer(id).ok());
}

}  // namespace
}  // namespace ferry::controller
