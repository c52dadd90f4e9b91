// TransferManager's finalize phases: the further names of hard-linked files (LINKS)
// and the directories' final attributes (DIRS) run after every copy task has ended, in
// bounded waves, one phase after the other, and the transfer ends only after the last
// wave; a cancel drops them, a restart resumes them.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/records.pb.h"
#include "controller/store.h"
#include "controller/task_authorizer.h"
#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::HardLinkedFile;
using testing::RegularFile;

// Destination paths of a task's files, in order.
std::vector<std::string> Destinations(const v1::Task& task) {
  std::vector<std::string> paths;
  for (const v1::FileTask& file : task.files()) paths.push_back(file.destination_path());
  return paths;
}

// Attaches a capability to every file, as the capability issuer does for a remote source.
class CapabilityEverywhere final : public TaskAuthorizer {
 public:
  absl::Status Authorize(const v1::Transfer& /*transfer*/, v1::Task* task) override {
    for (v1::FileTask& file : *task->mutable_files()) {
      file.mutable_source_capability()->set_claims("read " + file.source_path());
    }
    return absl::OkStatus();
  }
};

class FinalizeTest : public testing::ControllerTest {
 protected:
  // A transfer /src -> /dst preserving mode, and hard links when `hard_links`.
  std::string CreatePreserving(const std::string& request_id, bool hard_links = true,
                               bool dry_run = false) {
    v1::CreateTransferRequest request = testing::CopyRequest(request_id, "/src", "/dst");
    request.mutable_preserve()->set_mode(true);
    request.mutable_preserve()->set_hard_links(hard_links);
    request.set_dry_run(dry_run);
    absl::StatusOr<v1::Transfer> transfer = manager_->CreateTransfer("alice", request);
    EXPECT_TRUE(transfer.ok()) << transfer.status();
    return transfer.ok() ? transfer->id() : "";
  }

  // Reports every leased task done (a link reports no bytes, as a made link copies
  // none); how many there were.
  int FinishAll(const std::string& worker, const std::vector<v1::Task>& tasks) {
    for (const v1::Task& task : tasks) {
      v1::TaskReport report = testing::ReportOf(task);
      for (const v1::FileTask& file : task.files()) {
        report.add_files()->set_bytes(file.link_target().empty() ? file.length() : 0);
      }
      EXPECT_EQ(Report(worker, report).code(), 0);
    }
    return tasks.size();
  }

  // Keys of `family` that belong to transfer `id`.
  std::vector<std::string> KeysOf(Family family, const std::string& id) {
    std::vector<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(family);
    const std::string prefix = absl::StrCat(id, "/");
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    return keys;
  }

  // Root dir, a hard-linked file with a second name in dir d, and a plain file.
  const std::vector<v1::FileInfo> tree_ = {
      Directory(""), HardLinkedFile("a", 10, 7), Directory("d"),
      HardLinkedFile("d/b", 10, 7), RegularFile("c", 3)};
};

TEST_F(FinalizeTest, PhasesRunInOrderAfterEveryCopyAndTheTransferEndsAfterTheLast) {
  options_.plan_limits.max_files_per_task = 2;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  Plan(id, tree_);
  EXPECT_EQ(KeysOf(Family::kInodes, id).size(), 1u);
  std::vector<v1::Task> copies = Lease(worker);
  ASSERT_EQ(copies.size(), 2u);  // "", a | d, c: d/b waits for LINKS.
  for (const v1::Task& task : copies) EXPECT_EQ(task.kind(), v1::TASK_KIND_COPY_FILES);
  EXPECT_EQ(Destinations(copies[1]), (std::vector<std::string>{"/dst/d", "/dst/c"}));

  FinishAll(worker, {copies[0]});
  EXPECT_TRUE(Lease(worker).empty());  // One copy task is still open.
  FinishAll(worker, {copies[1]});
  // Listing is done: the hard-link index is no longer needed.
  EXPECT_TRUE(KeysOf(Family::kInodes, id).empty());
  std::vector<v1::Task> links = Lease(worker);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].kind(), v1::TASK_KIND_COPY_FILES);
  EXPECT_EQ(Destinations(links[0]), (std::vector<std::string>{"/dst/d/b"}));
  EXPECT_EQ(links[0].files(0).link_target(), "/dst/a");
  EXPECT_EQ(links[0].files(0).source_path(), "/src/d/b");
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);

  FinishAll(worker, links);
  std::vector<v1::Task> dirs = Lease(worker);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs[0].kind(), v1::TASK_KIND_FINALIZE_DIRS);
  EXPECT_TRUE(dirs[0].preserve().mode());
  // Deepest first: a directory after everything below it.
  EXPECT_EQ(Destinations(dirs[0]), (std::vector<std::string>{"/dst/d", "/dst"}));
  EXPECT_EQ(dirs[0].files(1).source_info().type(), v1::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);

  FinishAll(worker, dirs);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_total(), 5);
  EXPECT_EQ(transfer.progress().files_done(), 5);  // The directories count once.
  EXPECT_EQ(transfer.progress().bytes_total(), 13);
  EXPECT_EQ(transfer.progress().bytes_done(), 13);
  EXPECT_TRUE(KeysOf(Family::kDeferred, id).empty());
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(FinalizeTest, ALinkCopiedAfterAllAddsItsBytesToTheTotal) {
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  Plan(id, {HardLinkedFile("a", 10, 7), HardLinkedFile("b", 10, 7)});
  FinishAll(worker, Lease(worker));
  std::vector<v1::Task> links = Lease(worker);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(Get(id).progress().bytes_total(), 10);
  ReportSuccess(worker, links[0]);  // The worker copied the 10 bytes.
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().bytes_total(), 20);
  EXPECT_EQ(transfer.progress().bytes_done(), 20);
  EXPECT_EQ(transfer.progress().files_done(), 2);
}

TEST_F(FinalizeTest, WavesAreBoundedAndTheTransferEndsAfterTheLast) {
  options_.finalize_wave_tasks = 2;
  options_.plan_limits.max_files_per_task = 2;
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  std::vector<v1::FileInfo> entries = {Directory("")};
  for (int i = 0; i < 9; ++i) entries.push_back(Directory(absl::StrCat("d", i)));
  Plan(id, entries);
  EXPECT_EQ(FinishAll(worker, Lease(worker)), 5);  // 10 directories, 2 per task.
  std::vector<int> wave_sizes;
  std::vector<std::string> order;
  for (std::vector<v1::Task> wave = Lease(worker); !wave.empty(); wave = Lease(worker)) {
    wave_sizes.push_back(wave.size());
    for (const v1::Task& task : wave) {
      EXPECT_EQ(task.kind(), v1::TASK_KIND_FINALIZE_DIRS);
      EXPECT_LE(task.files_size(), 2);
      for (const std::string& path : Destinations(task)) order.push_back(path);
    }
    EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);
    FinishAll(worker, wave);
  }
  EXPECT_EQ(wave_sizes, (std::vector<int>{2, 2, 1}));
  ASSERT_EQ(order.size(), 10u);
  EXPECT_EQ(order.front(), "/dst/d8");
  EXPECT_EQ(order.back(), "/dst");
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Get(id).progress().files_done(), 10);
}

TEST_F(FinalizeTest, AFailedDirectoryEndsTheTransferFailedWithItsError) {
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1", /*hard_links=*/false);
  Plan(id, {Directory(""), Directory("x"), Directory("y")});
  FinishAll(worker, Lease(worker));
  std::vector<v1::Task> dirs = Lease(worker);
  ASSERT_EQ(dirs.size(), 1u);
  ASSERT_EQ(Destinations(dirs[0]), (std::vector<std::string>{"/dst/y", "/dst/x", "/dst"}));
  v1::TaskReport report = testing::ReportOf(dirs[0]);
  v1::FileResult* gone = report.add_files();
  gone->set_code(static_cast<int>(absl::StatusCode::kNotFound));
  gone->set_message("no such directory: /dst/y");
  report.add_files()->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
  report.add_files();
  EXPECT_EQ(Report(worker, report).code(), 0);
  // The retryable one is tried again, alone.
  std::vector<v1::Task> retry = Lease(worker);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].kind(), v1::TASK_KIND_FINALIZE_DIRS);
  EXPECT_EQ(Destinations(retry[0]), (std::vector<std::string>{"/dst/x"}));
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);
  FinishAll(worker, retry);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_done(), 2);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().retries(), 1);
  ASSERT_EQ(transfer.errors_size(), 1);
  EXPECT_EQ(transfer.errors(0).code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(transfer.errors(0).path(), "/src/y");
}

TEST_F(FinalizeTest, ADirectoryWhoseCopyFailedIsNotCountedTwice) {
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1", /*hard_links=*/false);
  Plan(id, {Directory(""), Directory("x")});
  std::vector<v1::Task> copy = Lease(worker);
  ASSERT_EQ(copy.size(), 1u);
  v1::TaskReport report = testing::ReportOf(copy[0]);
  report.add_files();
  report.add_files()->set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Report(worker, report).code(), 0);
  std::vector<v1::Task> dirs = Lease(worker);  // A FAILED transfer still finalizes.
  ASSERT_EQ(dirs.size(), 1u);
  v1::TaskReport finalized = testing::ReportOf(dirs[0]);
  finalized.add_files()->set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
  finalized.add_files();
  EXPECT_EQ(Report(worker, finalized).code(), 0);
  const v1::Transfer transfer = Get(id);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_done(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.errors_size(), 1);
}

TEST_F(FinalizeTest, CancelDropsTheDeferredWork) {
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  Plan(id, tree_, /*listing_complete=*/false);
  EXPECT_EQ(KeysOf(Family::kDeferred, id).size(), 3u);  // d/b; "" and d.
  EXPECT_EQ(KeysOf(Family::kInodes, id).size(), 1u);
  std::vector<v1::Task> copies = Lease(worker);
  FERRY_ASSERT_OK(manager_->CancelTransfer("alice", id, "").status());
  EXPECT_TRUE(KeysOf(Family::kDeferred, id).empty());
  EXPECT_TRUE(KeysOf(Family::kInodes, id).empty());
  FinishAll(worker, copies);
  EXPECT_TRUE(Lease(worker).empty());
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_CANCELLED);
}

TEST_F(FinalizeTest, GarbageCollectionRemovesDeferredAndInodes) {
  options_.retention = absl::Hours(1);
  Open();
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  Plan(id, tree_, /*listing_complete=*/false);
  FERRY_ASSERT_OK(manager_->CancelTransfer("alice", id, "").status());
  // As a transfer that ended before its entries went (the cancel drops them itself).
  rocksdb::WriteBatch batch;
  batch.Put(store_->Handle(Family::kDeferred), DeferredKey(id, FINALIZE_PHASE_DIRS, 9), "");
  batch.Put(store_->Handle(Family::kInodes), InodeKey(id, 9, 7), "");
  FERRY_ASSERT_OK(store_->Commit(&batch, Durability::kSynced));
  clock_.Advance(absl::Hours(2));
  manager_->ExpireWorkersAndLeases();
  EXPECT_TRUE(KeysOf(Family::kDeferred, id).empty());
  EXPECT_TRUE(KeysOf(Family::kInodes, id).empty());
  EXPECT_TRUE(absl::IsNotFound(manager_->GetTransfer(id).status()));
}

TEST_F(FinalizeTest, ARestartMidPhaseResumesWhereTheStoreSays) {
  options_.plan_limits.max_files_per_task = 1;
  options_.finalize_wave_tasks = 1;
  Open();
  std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1");
  Plan(id, {Directory(""), HardLinkedFile("a", 1, 7), HardLinkedFile("b", 1, 7),
            HardLinkedFile("c", 1, 7), Directory("d")});
  FinishAll(worker, Lease(worker));
  std::vector<v1::Task> first_link = Lease(worker);
  ASSERT_EQ(first_link.size(), 1u);
  EXPECT_EQ(Destinations(first_link[0]), (std::vector<std::string>{"/dst/b"}));
  Restart();  // Killed with a LINKS task leased: its report is still accepted.
  worker = RegisterWorker();
  FinishAll(worker, first_link);
  Restart();  // Killed with the second LINKS wave queued.
  worker = RegisterWorker();
  std::vector<v1::Task> second_link = Lease(worker);
  ASSERT_EQ(second_link.size(), 1u);
  EXPECT_EQ(Destinations(second_link[0]), (std::vector<std::string>{"/dst/c"}));
  FinishAll(worker, second_link);
  std::vector<std::string> dirs;
  for (int wave = 0; wave < 2; ++wave) {
    Restart();
    worker = RegisterWorker();
    std::vector<v1::Task> tasks = Lease(worker);
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(tasks[0].kind(), v1::TASK_KIND_FINALIZE_DIRS);
    dirs.push_back(tasks[0].files(0).destination_path());
    EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_RUNNING);
    FinishAll(worker, tasks);
  }
  EXPECT_EQ(dirs, (std::vector<std::string>{"/dst/d", "/dst"}));
  Restart();
  EXPECT_TRUE(Lease(RegisterWorker()).empty());
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Get(id).progress().files_done(), 5);
}

TEST_F(FinalizeTest, ADryRunDefersNothing) {
  const std::string worker = RegisterWorker();
  const std::string id = CreatePreserving("r1", /*hard_links=*/true, /*dry_run=*/true);
  Plan(id, tree_);
  EXPECT_TRUE(KeysOf(Family::kDeferred, id).empty());
  EXPECT_TRUE(KeysOf(Family::kInodes, id).empty());
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_TRUE(Lease(worker).empty());
}

TEST_F(FinalizeTest, OnlyCopiesCarrySourceCapabilities) {
  CapabilityEverywhere authorizer;
  options_.task_authorizer = &authorizer;
  Open();
  const std::string worker = RegisterWorker();
  Plan(CreatePreserving("r1"), tree_);
  FinishAll(worker, Lease(worker));
  std::vector<v1::Task> links = Lease(worker);
  ASSERT_EQ(links.size(), 1u);
  // The worker may have to copy the file after all: it gets its capability.
  EXPECT_TRUE(links[0].files(0).has_source_capability());
  FinishAll(worker, links);
  std::vector<v1::Task> dirs = Lease(worker);
  ASSERT_EQ(dirs.size(), 1u);
  ASSERT_EQ(dirs[0].kind(), v1::TASK_KIND_FINALIZE_DIRS);
  for (const v1::FileTask& file : dirs[0].files()) {
    EXPECT_FALSE(file.has_source_capability()) << file.destination_path();
  }
}

}  // namespace
}  // namespace ferry::controller
