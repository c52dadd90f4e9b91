// Files copied in chunks through the TransferManager: chunk results, the commit task
// with the composite CRC32C, failures, skips, re-copies after a corrupt commit,
// cleanup of the temporary file, cancel and restart, and a source that changes while its
// chunks are copied (planned again).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "controller/test_util.h"
#include "controller/transfer_manager.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::ReportOf;
using testing::RegularFile;

constexpr uint64_t kChunk = 100;
constexpr uint64_t kSize = 250;  // Three chunks: 100, 100, 50.

class ChunkedCopyTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.plan_limits.chunk_bytes = kChunk;
    Open();
    data_ = Content(kSize);
  }

  static std::string Content(uint64_t size) {
    std::string data;
    for (uint64_t i = 0; i < size; ++i) data.push_back(static_cast<char>('a' + i % 23));
    return data;
  }

  // Registers a worker, creates and plans a transfer of one kSize file "big" (plus
  // `more` entries) and leases up to `max_tasks` tasks.
  std::vector<v1::Task> Start(int max_tasks = 100, std::vector<v1::FileInfo> more = {}) {
    worker_ = RegisterWorker();
    id_ = CreateTransfer("r1");
    more.insert(more.begin(), RegularFile("big", kSize));
    Plan(id_, more);
    return Lease(worker_, max_tasks);
  }

  // The chunk's report as a worker that copied it sends it.
  v1::TaskReport ChunkDone(const v1::Task& task) {
    v1::TaskReport report = ReportOf(task);
    const v1::FileTask& range = task.files(0);
    v1::FileResult* result = report.add_files();
    result->set_crc32c(Crc32c(absl::string_view(data_).substr(range.offset(), range.length())));
    result->set_bytes(range.length());
    return report;
  }
  v1::TaskReport FileResultOf(const v1::Task& task, absl::StatusCode code,
                              bool skipped = false) {
    v1::TaskReport report = ReportOf(task);
    v1::FileResult* result = report.add_files();
    result->set_code(static_cast<int32_t>(code));
    if (code != absl::StatusCode::kOk) result->set_message("injected by the test");
    result->set_skipped(skipped);
    return report;
  }
  // `task`'s report as a worker that found the source changed sends it: it now has
  // `size_now` bytes and a later mtime.
  v1::TaskReport SourceChanged(const v1::Task& task, uint64_t size_now) {
    v1::TaskReport report = FileResultOf(task, absl::StatusCode::kFailedPrecondition);
    v1::FileResult* result = report.mutable_files(0);
    result->set_source_changed(true);
    v1::FileInfo* now = result->mutable_source_now();
    *now = task.files(0).source_info();
    now->clear_path();  // As copyd sends it.
    now->set_size(size_now);
    now->set_mtime_ns(task.files(0).source_info().mtime_ns() + 1);
    return report;
  }
  // Reports every task of `tasks` done (a chunk with its CRC32C of data_).
  void ReportAllDone(const std::vector<v1::Task>& tasks) {
    for (const v1::Task& task : tasks) {
      const v1::TaskAck ack = task.kind() == v1::TASK_KIND_COPY_CHUNK
                                  ? Report(worker_, ChunkDone(task))
                                  : ReportSuccess(worker_, task);
      ASSERT_EQ(ack.code(), 0) << task.task_id();
    }
  }
  static std::vector<v1::Task> OfKind(const std::vector<v1::Task>& tasks, v1::TaskKind kind) {
    std::vector<v1::Task> of_kind;
    for (const v1::Task& task : tasks) {
      if (task.kind() == kind) of_kind.push_back(task);
    }
    return of_kind;
  }
  // The transfer of the one file "big", planned again, ended with it copied once at
  // its latest size.
  void ExpectCopiedOnce(int64_t size) {
    const v1::Transfer transfer = Get(id_);
    EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
    EXPECT_EQ(transfer.progress().files_total(), 1);
    EXPECT_EQ(transfer.progress().files_done(), 1);
    EXPECT_EQ(transfer.progress().files_failed(), 0);
    EXPECT_EQ(transfer.progress().files_skipped(), 0);
    EXPECT_EQ(transfer.progress().bytes_total(), size);
    EXPECT_EQ(transfer.progress().bytes_done(), size);
    EXPECT_EQ(transfer.files_verified(), 1);
  }
  FileRecord File(uint64_t number = 0) {
    FileRecord file;
    EXPECT_TRUE(store_->Get(Family::kFiles, FileKey(id_, number), &file).ok());
    return file;
  }

  std::string data_;
  std::string worker_;
  std::string id_;
};

TEST_F(ChunkedCopyTest, LastChunkDoneCreatesTheCommitWithTheCompositeCrc) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].kind(), v1::TASK_KIND_COPY_CHUNK);
  EXPECT_EQ(Get(id_).progress().files_total(), 1);

  ASSERT_EQ(Report(worker_, ChunkDone(chunks[0])).code(), 0);
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[2])).code(), 0);
  EXPECT_EQ(Get(id_).progress().bytes_done(), 150);  // Grows per chunk.
  EXPECT_EQ(File().state(), FILE_STATE_COPYING);
  EXPECT_TRUE(Lease(worker_).empty());

  ASSERT_EQ(Report(worker_, ChunkDone(chunks[1])).code(), 0);
  // The commit task was written with the last chunk's result: it survives a restart.
  Restart();
  worker_ = RegisterWorker();
  EXPECT_EQ(File().state(), FILE_STATE_COMMITTING);
  EXPECT_EQ(File().crc32c(), Crc32c(data_));
  EXPECT_EQ(File().open_chunks(), 0u);
  const std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0].kind(), v1::TASK_KIND_COMMIT_FILE);
  ASSERT_EQ(commit[0].files_size(), 1);
  EXPECT_TRUE(commit[0].files(0).has_expected_crc32c());
  EXPECT_EQ(commit[0].files(0).expected_crc32c(), Crc32c(data_));
  EXPECT_EQ(commit[0].files(0).temp_path(), chunks[0].files(0).temp_path());
  EXPECT_EQ(commit[0].files(0).destination_path(), "/dst/big");
  EXPECT_EQ(commit[0].files(0).length(), kSize);
  v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);
  EXPECT_EQ(transfer.progress().files_done(), 0);

  v1::TaskReport committed = ReportOf(commit[0]);
  committed.add_files()->set_crc32c(Crc32c(data_));
  ASSERT_EQ(Report(worker_, committed).code(), 0);
  transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_done(), 1);
  EXPECT_EQ(transfer.progress().bytes_done(), static_cast<int64_t>(kSize));
  EXPECT_EQ(transfer.files_verified(), 1);
  EXPECT_EQ(File().state(), FILE_STATE_COMMITTED);
}

TEST_F(ChunkedCopyTest, ChunksReportedInOneCallMakeOneCommit) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  v1::ReportTasksRequest request;
  request.set_worker_id(worker_);
  for (const v1::Task& chunk : chunks) *request.add_reports() = ChunkDone(chunk);
  ASSERT_TRUE(manager_->ReportTasks(request).ok());
  const std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0].kind(), v1::TASK_KIND_COMMIT_FILE);
  EXPECT_EQ(commit[0].files(0).expected_crc32c(), Crc32c(data_));
  EXPECT_EQ(Get(id_).progress().bytes_done(), static_cast<int64_t>(kSize));
}

TEST_F(ChunkedCopyTest, SmallFilesBesideAChunkedFileRunAsUsual) {
  const std::vector<v1::Task> tasks = Start(100, {RegularFile("small", 5)});
  ASSERT_EQ(tasks.size(), 4u);
  for (const v1::Task& task : tasks) {
    if (task.kind() == v1::TASK_KIND_COPY_FILES) {
      ASSERT_EQ(ReportSuccess(worker_, task).code(), 0);
    } else {
      ASSERT_EQ(Report(worker_, ChunkDone(task)).code(), 0);
    }
  }
  const std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  v1::TaskReport committed = ReportOf(commit[0]);
  committed.add_files();
  ASSERT_EQ(Report(worker_, committed).code(), 0);
  const v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_total(), 2);
  EXPECT_EQ(transfer.progress().files_done(), 2);
  EXPECT_EQ(transfer.progress().bytes_done(), static_cast<int64_t>(kSize + 5));
}

TEST_F(ChunkedCopyTest, PermanentChunkFailureFailsTheFileOnceThenCleansUp) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, FileResultOf(chunks[0], absl::StatusCode::kPermissionDenied))
                .code(),
            0);
  v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  ASSERT_EQ(transfer.errors_size(), 1);
  EXPECT_EQ(transfer.errors(0).code(),
            static_cast<int32_t>(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(transfer.errors(0).path(), "/src/big");
  EXPECT_EQ(File().state(), FILE_STATE_FAILED);
  EXPECT_EQ(File().error().code(), static_cast<int32_t>(absl::StatusCode::kPermissionDenied));
  // Two chunks still run and may still write the temporary file: no cleanup yet.
  EXPECT_TRUE(Lease(worker_).empty());

  // Later reports of the file's chunks are just closed.
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[1])).code(), 0);
  ASSERT_EQ(Report(worker_, FileResultOf(chunks[2], absl::StatusCode::kNotFound)).code(), 0);
  transfer = Get(id_);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().bytes_done(), 0);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_RUNNING);  // The cleanup is open.

  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  EXPECT_EQ(cleanup[0].files(0).temp_path(), chunks[0].files(0).temp_path());
  v1::TaskReport removed = ReportOf(cleanup[0]);
  removed.add_files();
  ASSERT_EQ(Report(worker_, removed).code(), 0);
  transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_TRUE(Lease(worker_).empty());  // Never a commit.
}

TEST_F(ChunkedCopyTest, FailedFileDropsItsQueuedChunks) {
  const std::vector<v1::Task> first = Start(/*max_tasks=*/1);
  ASSERT_EQ(first.size(), 1u);
  // A task-level error after the last attempt: the file fails for good.
  v1::TaskReport report = ReportOf(first[0]);
  report.set_code(static_cast<int32_t>(absl::StatusCode::kInvalidArgument));
  ASSERT_EQ(Report(worker_, report).code(), 0);
  EXPECT_EQ(File().open_chunks(), 0u);
  // The other two chunks were never leased: only the cleanup remains.
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  // A cleanup that finds nothing to remove is done (copyd reports NOT_FOUND as OK).
  ASSERT_EQ(ReportSuccess(worker_, cleanup[0]).code(), 0);
  EXPECT_EQ(Get(id_).state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(Get(id_).progress().files_failed(), 1);
}

TEST_F(ChunkedCopyTest, RetryableChunkErrorRetriesOnlyThatChunk) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, FileResultOf(chunks[1], absl::StatusCode::kUnavailable)).code(),
            0);
  const std::vector<v1::Task> again = Lease(worker_);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), chunks[1].task_id());
  EXPECT_EQ(again[0].attempt(), 2);
  EXPECT_EQ(File().state(), FILE_STATE_COPYING);
  EXPECT_EQ(Get(id_).progress().retries(), 1);
}

TEST_F(ChunkedCopyTest, SkippedChunkSkipsTheFileOnceWithoutACommit) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, FileResultOf(chunks[0], absl::StatusCode::kOk, true)).code(), 0);
  ASSERT_EQ(Report(worker_, FileResultOf(chunks[1], absl::StatusCode::kOk, true)).code(), 0);
  EXPECT_EQ(Get(id_).progress().files_skipped(), 1);
  EXPECT_EQ(File().state(), FILE_STATE_SKIPPED);
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[2])).code(), 0);
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  ASSERT_EQ(ReportSuccess(worker_, cleanup[0]).code(), 0);
  const v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(transfer.progress().files_skipped(), 1);
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_EQ(transfer.files_verified(), 0);
}

TEST_F(ChunkedCopyTest, CorruptCommitCopiesTheChunksAgainOnceThenFails) {
  std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  for (const v1::Task& chunk : chunks) ASSERT_EQ(Report(worker_, ChunkDone(chunk)).code(), 0);
  std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  ASSERT_EQ(Report(worker_, FileResultOf(commit[0], absl::StatusCode::kDataLoss)).code(), 0);
  v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.progress().files_failed(), 0);
  EXPECT_EQ(transfer.progress().bytes_done(), 0);  // To be copied and verified again.
  EXPECT_EQ(transfer.progress().retries(), 1);
  EXPECT_EQ(File().state(), FILE_STATE_COPYING);
  EXPECT_EQ(File().recopies(), 1);

  chunks = Lease(worker_);
  ASSERT_EQ(chunks.size(), 3u);
  for (const v1::Task& chunk : chunks) {
    EXPECT_EQ(chunk.kind(), v1::TASK_KIND_COPY_CHUNK);
    EXPECT_EQ(chunk.attempt(), 1);
    ASSERT_EQ(Report(worker_, ChunkDone(chunk)).code(), 0);
  }
  commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  ASSERT_EQ(Report(worker_, FileResultOf(commit[0], absl::StatusCode::kDataLoss)).code(), 0);
  transfer = Get(id_);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(File().state(), FILE_STATE_FAILED);
  EXPECT_EQ(File().error().code(), static_cast<int32_t>(absl::StatusCode::kDataLoss));
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  ASSERT_EQ(ReportSuccess(worker_, cleanup[0]).code(), 0);
  EXPECT_EQ(Get(id_).state(), v1::TRANSFER_STATE_FAILED);
}

TEST_F(ChunkedCopyTest, ExpiredChunkLeaseIsRetriedAndTheFileStillCommits) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[0])).code(), 0);
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[1])).code(), 0);
  clock_.Advance(options_.lease_duration + absl::Seconds(1));
  const std::string other = RegisterWorker("copyd-2");
  manager_->ExpireWorkersAndLeases();
  const std::vector<v1::Task> again = Lease(other);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task_id(), chunks[2].task_id());
  ASSERT_EQ(Report(other, ChunkDone(again[0])).code(), 0);
  const std::vector<v1::Task> commit = Lease(other);
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0].files(0).expected_crc32c(), Crc32c(data_));
}

TEST_F(ChunkedCopyTest, CancelQueuesTheCleanupAfterALeaseDuration) {
  const std::vector<v1::Task> chunks = Start(/*max_tasks=*/1);
  ASSERT_EQ(chunks.size(), 1u);
  ASSERT_TRUE(manager_->CancelTransfer("alice", id_, "").ok());
  EXPECT_TRUE(Lease(worker_).empty());  // The revoked chunk may still be writing.
  clock_.Advance(options_.lease_duration);
  ASSERT_TRUE(manager_->Heartbeat(testing::HeartbeatOf(worker_)).ok());
  manager_->ExpireWorkersAndLeases();
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  EXPECT_EQ(cleanup[0].files(0).temp_path(), chunks[0].files(0).temp_path());
  EXPECT_EQ(ReportSuccess(worker_, cleanup[0]).code(), 0);
  EXPECT_EQ(Get(id_).state(), v1::TRANSFER_STATE_CANCELLED);
}

TEST_F(ChunkedCopyTest, SourceGrownUnderAChunkIsPlannedAgainWithMoreChunks) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[0])).code(), 0);
  EXPECT_EQ(Get(id_).progress().bytes_done(), 100);
  ASSERT_EQ(Report(worker_, SourceChanged(chunks[1], 350)).code(), 0);

  EXPECT_EQ(File(0).state(), FILE_STATE_REPLANNED);
  const FileRecord again = File(1);
  EXPECT_EQ(again.state(), FILE_STATE_COPYING);
  EXPECT_EQ(again.chunk_count(), 4u);
  EXPECT_EQ(again.replans(), 1);
  EXPECT_EQ(again.file().source_info().size(), 350u);
  EXPECT_EQ(again.file().source_info().path(), "big");
  EXPECT_EQ(again.file().destination_path(), "/dst/big");
  EXPECT_NE(again.file().temp_path(), chunks[0].files(0).temp_path());
  const v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.progress().files_total(), 1);
  EXPECT_EQ(transfer.progress().bytes_total(), 350);
  EXPECT_EQ(transfer.progress().bytes_done(), 0);  // Chunk 0 is copied again.
  EXPECT_EQ(transfer.progress().retries(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 0);

  // The old chunk 2 still runs: no cleanup of the old temporary file yet.
  const std::vector<v1::Task> copies = Lease(worker_);
  ASSERT_EQ(copies.size(), 4u);
  for (const v1::Task& chunk : copies) {
    EXPECT_EQ(chunk.kind(), v1::TASK_KIND_COPY_CHUNK);
    EXPECT_EQ(chunk.files(0).temp_path(), again.file().temp_path());
    EXPECT_EQ(chunk.files(0).source_info().size(), 350u);
  }
  // Its late report is accepted and changes nothing but itself.
  ASSERT_EQ(Report(worker_, ChunkDone(chunks[2])).code(), 0);
  EXPECT_EQ(Get(id_).progress().bytes_done(), 0);
  EXPECT_EQ(File(0).state(), FILE_STATE_REPLANNED);
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  EXPECT_EQ(cleanup[0].files(0).temp_path(), chunks[0].files(0).temp_path());
  ASSERT_EQ(ReportSuccess(worker_, cleanup[0]).code(), 0);

  data_ = Content(350);
  ReportAllDone(copies);
  const std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0].kind(), v1::TASK_KIND_COMMIT_FILE);
  EXPECT_EQ(commit[0].files(0).expected_crc32c(), Crc32c(data_));
  ReportAllDone(commit);
  ExpectCopiedOnce(350);
  EXPECT_EQ(File(1).state(), FILE_STATE_COMMITTED);
  EXPECT_TRUE(Lease(worker_).empty());
}

TEST_F(ChunkedCopyTest, SourceShrunkToOneChunkIsPlannedAsACopyFilesTask) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  ASSERT_EQ(Report(worker_, SourceChanged(chunks[0], 30)).code(), 0);
  const std::vector<v1::Task> copy = Lease(worker_);
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0].kind(), v1::TASK_KIND_COPY_FILES);
  ASSERT_EQ(copy[0].files_size(), 1);
  EXPECT_EQ(copy[0].files(0).source_info().size(), 30u);
  EXPECT_EQ(copy[0].files(0).source_info().path(), "big");
  EXPECT_EQ(copy[0].files(0).destination_path(), "/dst/big");
  EXPECT_EQ(copy[0].files(0).length(), 30u);
  FileRecord unused;
  EXPECT_TRUE(absl::IsNotFound(store_->Get(Family::kFiles, FileKey(id_, 1), &unused)));

  ReportAllDone({chunks[1], chunks[2]});  // Late: only closed.
  const std::vector<v1::Task> cleanup = Lease(worker_);
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].kind(), v1::TASK_KIND_CLEANUP);
  ReportAllDone(cleanup);
  EXPECT_EQ(Get(id_).state(), v1::TRANSFER_STATE_RUNNING);
  ReportAllDone(copy);
  ExpectCopiedOnce(30);
}

TEST_F(ChunkedCopyTest, SourceChangedAtTheCommitIsPlannedAgainAndSurvivesARestart) {
  const std::vector<v1::Task> chunks = Start();
  ReportAllDone(chunks);
  const std::vector<v1::Task> commit = Lease(worker_);
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(Get(id_).progress().bytes_done(), static_cast<int64_t>(kSize));
  ASSERT_EQ(Report(worker_, SourceChanged(commit[0], kSize)).code(), 0);
  EXPECT_EQ(File(0).state(), FILE_STATE_REPLANNED);
  EXPECT_EQ(Get(id_).progress().bytes_done(), 0);

  Restart();
  worker_ = RegisterWorker();
  const std::vector<v1::Task> tasks = Lease(worker_);
  const std::vector<v1::Task> cleanup = OfKind(tasks, v1::TASK_KIND_CLEANUP);
  const std::vector<v1::Task> copies = OfKind(tasks, v1::TASK_KIND_COPY_CHUNK);
  ASSERT_EQ(cleanup.size(), 1u);  // No chunk of the old record is open.
  EXPECT_EQ(cleanup[0].files(0).temp_path(), chunks[0].files(0).temp_path());
  ASSERT_EQ(copies.size(), 3u);
  EXPECT_EQ(copies[0].files(0).source_info().mtime_ns(),
            chunks[0].files(0).source_info().mtime_ns() + 1);
  ReportAllDone(tasks);
  ReportAllDone(Lease(worker_));  // The commit.
  ExpectCopiedOnce(kSize);
  EXPECT_EQ(File(1).state(), FILE_STATE_COMMITTED);
}

TEST_F(ChunkedCopyTest, ChangesReportedTogetherPlanTheFileAgainOnce) {
  const std::vector<v1::Task> chunks = Start();
  ASSERT_EQ(chunks.size(), 3u);
  v1::ReportTasksRequest request;
  request.set_worker_id(worker_);
  *request.add_reports() = SourceChanged(chunks[0], 260);
  *request.add_reports() = SourceChanged(chunks[1], 270);
  *request.add_reports() = ChunkDone(chunks[2]);
  ASSERT_TRUE(manager_->ReportTasks(request).ok());
  FileRecord unused;
  EXPECT_TRUE(absl::IsNotFound(store_->Get(Family::kFiles, FileKey(id_, 2), &unused)));
  EXPECT_EQ(File(1).file().source_info().size(), 260u);
  const v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.progress().bytes_total(), 260);
  EXPECT_EQ(transfer.progress().bytes_done(), 0);
  EXPECT_EQ(transfer.progress().retries(), 1);

  const std::vector<v1::Task> tasks = Lease(worker_);
  EXPECT_EQ(OfKind(tasks, v1::TASK_KIND_CLEANUP).size(), 1u);
  EXPECT_EQ(OfKind(tasks, v1::TASK_KIND_COPY_CHUNK).size(), 3u);
  data_ = Content(260);
  ReportAllDone(tasks);
  ReportAllDone(Lease(worker_));  // The commit.
  ExpectCopiedOnce(260);
}

TEST_F(ChunkedCopyTest, SourceThatKeepsChangingFailsTheFileAfterMaxAttempts) {
  options_.max_attempts = 3;
  Open();
  std::vector<v1::Task> tasks = Start();
  std::vector<std::string> cleaned;
  while (!tasks.empty()) {
    bool changed = false;
    for (const v1::Task& task : tasks) {
      if (task.kind() == v1::TASK_KIND_CLEANUP) cleaned.push_back(task.files(0).temp_path());
      // Each plan's first chunk finds the source changed; the other chunks run on.
      const bool change = task.kind() == v1::TASK_KIND_COPY_CHUNK && !changed;
      changed = changed || change;
      const v1::TaskAck ack =
          change ? Report(worker_, SourceChanged(task, kSize)) : Report(worker_, ChunkDone(task));
      ASSERT_EQ(ack.code(), 0);
    }
    tasks = Lease(worker_);
  }
  const v1::Transfer transfer = Get(id_);
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(transfer.progress().files_total(), 1);
  EXPECT_EQ(transfer.progress().files_failed(), 1);
  EXPECT_EQ(transfer.progress().files_done(), 0);
  EXPECT_EQ(transfer.progress().retries(), 2);
  EXPECT_EQ(transfer.progress().bytes_total(), static_cast<int64_t>(kSize));
  EXPECT_EQ(transfer.progress().bytes_done(), 0);  // Each plan's first chunk changed.
  ASSERT_EQ(transfer.errors_size(), 1);
  EXPECT_EQ(transfer.errors(0).code(),
            static_cast<int32_t>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(transfer.errors(0).message(),
            "source kept changing while it was copied: /src/big");
  EXPECT_EQ(File(0).state(), FILE_STATE_REPLANNED);
  EXPECT_EQ(File(1).state(), FILE_STATE_REPLANNED);
  EXPECT_EQ(File(2).state(), FILE_STATE_FAILED);
  EXPECT_EQ(File(2).replans(), 2);
  // Each record's temporary file is removed once.
  EXPECT_EQ(cleaned, std::vector<std::string>({File(0).file().temp_path(),
                                               File(1).file().temp_path(),
                                               File(2).file().temp_path()}));
}

TEST_F(ChunkedCopyTest, DryRunWritesNoFileRecords) {
  worker_ = RegisterWorker();
  id_ = CreateTransfer("dry", /*dry_run=*/true);
  Plan(id_, {RegularFile("big", kSize)});
  EXPECT_EQ(Get(id_).state(), v1::TRANSFER_STATE_SUCCEEDED);
  FileRecord file;
  EXPECT_TRUE(absl::IsNotFound(store_->Get(Family::kFiles, FileKey(id_, 0), &file)));
  EXPECT_TRUE(Lease(worker_).empty());
}

}  // namespace
}  // namespace ferry::controller
