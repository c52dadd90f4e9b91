// FileCopier on the tasks of a file copied in chunks, over the in-memory file system:
// chunks written at their offsets into one shared temporary file (in any order, from
// several copiers at once), the overwrite policy per chunk, the commit with a matching
// and a mismatching composite CRC32C, a repeated commit, cleanup, and refusals.
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/crc32c.h"
#include "copyd/data_service.h"
#include "copyd/file_copier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_file_system.h"
#include "storage/mem_file_system.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using storage::FaultOp;
using storage::testing::ReadAll;
using storage::testing::WalkAll;
using storage::testing::WriteFile;

constexpr size_t kBlock = 4096;
constexpr uint64_t kChunk = 2 * kBlock + 100;  // Not a multiple of the block size.
constexpr int64_t kMtime = 1'600'000'000'123'456'789;
constexpr char kTemp[] = "/dst/.ferry-tmp.big.t-0000000000000001-0";

int32_t Code(absl::StatusCode code) { return static_cast<int32_t>(code); }

class ChunkedFileTest : public ::testing::Test {
 protected:
  ChunkedFileTest() : fs_(&mem_) {
    for (size_t i = 0; i < 3 * kChunk - 1000; ++i) {
      data_.push_back(static_cast<char>(i * 131 + i / kBlock));
    }
    EXPECT_TRUE(mem_.MakeDirs("src", 0755).ok());
    EXPECT_TRUE(WriteFile(mem_, "src/big", data_).ok());
    EXPECT_TRUE(mem_.SetModeAndMtime("src/big", 0640, kMtime).ok());
    mem_.SyncAll();
  }

  CopierOptions Options() const {
    CopierOptions options;
    options.block_size = kBlock;
    options.parallel_verify_above = parallel_verify_above_;
    return options;
  }
  uint32_t ChunkCount() const { return (data_.size() + kChunk - 1) / kChunk; }

  // A task of `kind` for src/big -> /dst/big (the target's directory may not exist).
  v1::Task TaskOf(v1::TaskKind kind,
                  v1::OverwritePolicy overwrite = v1::OVERWRITE_POLICY_NEVER) {
    v1::Task task;
    task.set_task_id("t-1/0");
    task.set_lease_generation(3);
    task.set_kind(kind);
    task.set_overwrite(overwrite);
    task.mutable_preserve()->set_mode(true);
    task.mutable_preserve()->set_mtime(true);
    task.set_attempt(1);
    v1::FileTask* file = task.add_files();
    file->set_source_path("/src/big");
    file->set_destination_path("/dst/big");
    file->set_temp_path(kTemp);
    absl::StatusOr<storage::FileInfo> info = mem_.Stat("src/big");
    EXPECT_TRUE(info.ok());
    *file->mutable_source_info() = ToProtoFileInfo(*info, "src");
    file->set_length(data_.size());
    return task;
  }
  v1::Task Chunk(uint32_t index) {
    v1::Task task = TaskOf(v1::TASK_KIND_COPY_CHUNK);
    task.mutable_files(0)->set_offset(index * kChunk);
    task.mutable_files(0)->set_length(std::min<uint64_t>(kChunk, data_.size() - index * kChunk));
    return task;
  }
  v1::Task Commit(uint32_t expected_crc32c) {
    v1::Task task = TaskOf(v1::TASK_KIND_COMMIT_FILE);
    task.mutable_files(0)->set_expected_crc32c(expected_crc32c);
    task.mutable_files(0)->set_has_expected_crc32c(true);
    return task;
  }

  // Runs `task` on a new copier (another worker) and returns its one file result.
  v1::FileResult Run(const v1::Task& task) {
    FileCopier copier(&fs_, &clock_, Options());
    const v1::TaskReport report = copier.Execute(task, &abort_, &bytes_done_);
    EXPECT_EQ(report.code(), 0) << report.message();
    EXPECT_EQ(report.task_id(), task.task_id());
    EXPECT_EQ(report.files_size(), 1);
    return report.files_size() == 1 ? report.files(0) : v1::FileResult();
  }
  void CopyAllChunks() {
    for (uint32_t i = 0; i < ChunkCount(); ++i) {
      ASSERT_EQ(Run(Chunk(i)).code(), 0);
    }
  }
  std::vector<std::string> DestinationTree() {
    absl::StatusOr<std::vector<std::string>> tree = WalkAll(mem_, "dst");
    return tree.ok() ? *tree : std::vector<std::string>();
  }

  uint64_t parallel_verify_above_ = CopierOptions().parallel_verify_above;
  std::string data_;
  storage::MemFileSystem mem_;
  storage::FaultInjectionFileSystem fs_;
  SimulatedClock clock_;
  std::atomic<bool> abort_{false};
  std::atomic<int64_t> bytes_done_{0};
};

TEST_F(ChunkedFileTest, ChunksInAnyOrderFillOneSharedTemporaryFile) {
  ASSERT_EQ(ChunkCount(), 3u);
  for (uint32_t i : {2u, 0u, 1u}) {
    const v1::Task chunk = Chunk(i);
    const v1::FileResult result = Run(chunk);
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_FALSE(result.skipped());
    EXPECT_EQ(result.bytes(), chunk.files(0).length());
    EXPECT_EQ(result.crc32c(),
              Crc32c(absl::string_view(data_).substr(i * kChunk, chunk.files(0).length())));
  }
  EXPECT_TRUE(*ReadAll(mem_, "dst/.ferry-tmp.big.t-0000000000000001-0") == data_);
  EXPECT_EQ(mem_.Stat("dst/.ferry-tmp.big.t-0000000000000001-0")->mode, 0600u);
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/.ferry-tmp.big.t-0000000000000001-0"));
  EXPECT_EQ(bytes_done_.load(), static_cast<int64_t>(data_.size()));
  EXPECT_EQ(fs_.Count(FaultOp::kSync), 0);  // Chunks never fsync; the commit does.
}

TEST_F(ChunkedFileTest, ChunksRunningAtOnceOnSeveralCopiersWritePositionally) {
  std::vector<std::thread> workers;
  for (uint32_t i = 0; i < ChunkCount(); ++i) {
    workers.emplace_back([this, task = Chunk(i)] {
      FileCopier copier(&fs_, &clock_, Options());
      const v1::TaskReport report = copier.Execute(task, nullptr, nullptr);
      EXPECT_EQ(report.code(), 0);
      EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
    });
  }
  for (std::thread& worker : workers) worker.join();
  EXPECT_TRUE(*ReadAll(mem_, "dst/.ferry-tmp.big.t-0000000000000001-0") == data_);
}

TEST_F(ChunkedFileTest, CommitWithTheCompositeCrcRenamesIntoPlaceDurably) {
  CopyAllChunks();
  const v1::FileResult result = Run(Commit(Crc32c(data_)));
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_EQ(result.crc32c(), Crc32c(data_));
  EXPECT_EQ(result.bytes(), data_.size());
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/big"));
  fs_.SimulateCrash();  // Data, attributes, the rename and the new directory: all synced.
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/big"));
  EXPECT_TRUE(*ReadAll(mem_, "dst/big") == data_);
  EXPECT_EQ(mem_.Stat("dst/big")->mode, 0640u);
  EXPECT_EQ(mem_.Stat("dst/big")->mtime_ns, kMtime);
}

// The commit asks for the owner 1234:5678 and a set-user-ID mode.
v1::Task WithOwner(v1::Task commit) {
  commit.mutable_preserve()->set_owner(true);
  v1::FileInfo* info = commit.mutable_files(0)->mutable_source_info();
  info->set_mode(04750);
  info->set_uid(1234);
  info->set_gid(5678);
  return commit;
}

TEST_F(ChunkedFileTest, CommitGivesTheOwnerBeforeTheModeWhenThisCopydMaySetOwners) {
  if (geteuid() != 0) GTEST_SKIP() << "only root may give files away";
  CopyAllChunks();
  CopierOptions options = Options();
  options.can_set_owner = true;
  FileCopier copier(&fs_, &clock_, options);
  const v1::TaskReport report =
      copier.Execute(WithOwner(Commit(Crc32c(data_))), &abort_, &bytes_done_);
  ASSERT_EQ(report.files_size(), 1);
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  fs_.SimulateCrash();
  const absl::StatusOr<storage::FileInfo> committed = mem_.Stat("dst/big");
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->uid, 1234u);
  EXPECT_EQ(committed->gid, 5678u);
  EXPECT_EQ(committed->mode, 04750u);  // Set after the owner, which would clear 04000.
}

TEST_F(ChunkedFileTest, CommitKeepsItsOwnOwnerWhenThisCopydMayNotSetOwners) {
  CopyAllChunks();
  EXPECT_EQ(Run(WithOwner(Commit(Crc32c(data_)))).code(), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kSetOwner), 0);
  EXPECT_EQ(mem_.Stat("dst/big")->uid, geteuid());
  EXPECT_EQ(mem_.Stat("dst/big")->mode, 04750u);
}

TEST_F(ChunkedFileTest, CommitWithAMismatchingCrcIsDataLossAndRenamesNothing) {
  CopyAllChunks();
  const v1::FileResult result = Run(Commit(Crc32c(data_) ^ 1));
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kDataLoss));
  EXPECT_THAT(result.message(), HasSubstr("/dst/big"));
  // The temporary file stays for the re-copy (or the controller's cleanup).
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/.ferry-tmp.big.t-0000000000000001-0"));
}

TEST_F(ChunkedFileTest, CommitReadsALargeFileBackOnTwoThreads) {
  parallel_verify_above_ = kBlock;  // This file counts as large.
  CopyAllChunks();
  const v1::FileResult result = Run(Commit(Crc32c(data_)));
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_EQ(result.crc32c(), Crc32c(data_));
  EXPECT_TRUE(*ReadAll(mem_, "dst/big") == data_);
}

TEST_F(ChunkedFileTest, CommitOnTwoThreadsFindsABadByteInEitherHalf) {
  parallel_verify_above_ = kBlock;
  for (const size_t bad : {size_t{10}, data_.size() - 10}) {
    SCOPED_TRACE(bad);
    CopyAllChunks();
    absl::StatusOr<std::unique_ptr<storage::WritableFile>> temp = mem_.OpenForWrite(kTemp + 1);  // Relative to the root.
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE((*temp)->WriteAt(bad, std::string(1, data_[bad] ^ 0x20)).ok());
    ASSERT_TRUE((*temp)->Close().ok());
    const v1::FileResult result = Run(Commit(Crc32c(data_)));
    EXPECT_EQ(result.code(), Code(absl::StatusCode::kDataLoss)) << result.message();
    EXPECT_THAT(DestinationTree(), ElementsAre("dst/.ferry-tmp.big.t-0000000000000001-0"));
  }
}

TEST_F(ChunkedFileTest, CommitCutsTheTemporaryFileToThePlannedSize) {
  CopyAllChunks();
  {
    absl::StatusOr<std::unique_ptr<storage::WritableFile>> temp =
        mem_.OpenForWrite("dst/.ferry-tmp.big.t-0000000000000001-0");
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE((*temp)->WriteAt(data_.size(), "trailing junk").ok());
  }
  EXPECT_EQ(Run(Commit(Crc32c(data_))).code(), 0);
  EXPECT_TRUE(*ReadAll(mem_, "dst/big") == data_);
}

TEST_F(ChunkedFileTest, RepeatedCommitFindsItsEarlierRenameUnderNever) {
  CopyAllChunks();
  ASSERT_EQ(Run(Commit(Crc32c(data_))).code(), 0);
  // Its report was lost; the controller leases the commit again.
  v1::Task again = Commit(Crc32c(data_));
  again.set_attempt(2);
  const v1::FileResult result = Run(again);
  EXPECT_EQ(result.code(), 0) << result.message();
  EXPECT_EQ(result.crc32c(), Crc32c(data_));
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/big"));
  // A target of other content is not taken for the commit.
  ASSERT_TRUE(WriteFile(mem_, "dst/big", std::string(data_.size(), 'x')).ok());
  EXPECT_EQ(Run(again).code(), Code(absl::StatusCode::kDataLoss));
}

TEST_F(ChunkedFileTest, RepeatedCommitMakesTheEarlierRenameDurable) {
  CopyAllChunks();
  // An earlier attempt synced the file and renamed it, then died before the directory
  // fsync.
  {
    auto temp = mem_.OpenForWrite("dst/.ferry-tmp.big.t-0000000000000001-0");
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE((*temp)->Sync().ok());
  }
  ASSERT_TRUE(mem_.SyncDir("").ok());
  ASSERT_TRUE(mem_.Rename("dst/.ferry-tmp.big.t-0000000000000001-0", "dst/big",
                          storage::CommitMode::kNoReplace)
                  .ok());
  v1::Task again = Commit(Crc32c(data_));
  again.set_attempt(2);
  EXPECT_EQ(Run(again).code(), 0);
  fs_.SimulateCrash();
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/big"));
  EXPECT_TRUE(*ReadAll(mem_, "dst/big") == data_);
}

TEST_F(ChunkedFileTest, CommitWhoseSourceChangedCommitsNothing) {
  CopyAllChunks();
  const v1::Task commit = Commit(Crc32c(data_));
  ASSERT_TRUE(mem_.SetModeAndMtime("src/big", 0640, kMtime + 1).ok());
  const v1::FileResult result = Run(commit);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result.message(), HasSubstr("source changed"));
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/.ferry-tmp.big.t-0000000000000001-0"));
}

TEST_F(ChunkedFileTest, ChunkOfASourceChangedSincePlanningFails) {
  const v1::Task chunk = Chunk(1);
  ASSERT_TRUE(WriteFile(mem_, "src/big", data_ + "grown").ok());
  const v1::FileResult result = Run(chunk);
  EXPECT_EQ(result.code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(result.message(), HasSubstr("source changed"));
}

TEST_F(ChunkedFileTest, EachChunkAppliesTheOverwritePolicy) {
  ASSERT_TRUE(mem_.MakeDirs("dst", 0755).ok());
  ASSERT_TRUE(WriteFile(mem_, "dst/big", data_).ok());
  ASSERT_TRUE(mem_.SetModeAndMtime("dst/big", 0644, kMtime).ok());
  const v1::FileResult never = Run(Chunk(0));
  EXPECT_EQ(never.code(), Code(absl::StatusCode::kFailedPrecondition));
  v1::Task chunk = Chunk(1);
  chunk.set_overwrite(v1::OVERWRITE_POLICY_SKIP_IDENTICAL);
  const v1::FileResult skipped = Run(chunk);
  EXPECT_EQ(skipped.code(), 0);
  EXPECT_TRUE(skipped.skipped());
  EXPECT_EQ(fs_.Count(FaultOp::kOpenOrCreateForWrite), 0);
  chunk.set_overwrite(v1::OVERWRITE_POLICY_REPLACE);
  EXPECT_FALSE(Run(chunk).skipped());
  EXPECT_EQ(fs_.Count(FaultOp::kOpenOrCreateForWrite), 1);
}

TEST_F(ChunkedFileTest, CleanupRemovesTheTemporaryFileAndAbsentIsFine) {
  ASSERT_EQ(Run(Chunk(0)).code(), 0);
  EXPECT_EQ(Run(TaskOf(v1::TASK_KIND_CLEANUP)).code(), 0);
  EXPECT_THAT(DestinationTree(), IsEmpty());
  EXPECT_EQ(Run(TaskOf(v1::TASK_KIND_CLEANUP)).code(), 0);
}

TEST_F(ChunkedFileTest, TempPathMustBeAFerryTemporaryFileBesideTheTarget) {
  for (const char* temp : {"/src/.ferry-tmp.big.x", "/dst/big.part", "/dst/sub/.ferry-tmp.x",
                           "dst/.ferry-tmp.big.x", ""}) {
    for (v1::TaskKind kind : {v1::TASK_KIND_COPY_CHUNK, v1::TASK_KIND_CLEANUP}) {
      v1::Task task = kind == v1::TASK_KIND_COPY_CHUNK ? Chunk(0) : TaskOf(kind);
      task.mutable_files(0)->set_temp_path(temp);
      const v1::FileResult result = Run(task);
      EXPECT_EQ(result.code(), Code(absl::StatusCode::kInvalidArgument)) << temp;
      EXPECT_THAT(result.message(), HasSubstr("temp_path")) << temp;
    }
  }
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kRemove), 0);
}

TEST_F(ChunkedFileTest, CommitWithoutAnExpectedCrcIsRefused) {
  CopyAllChunks();
  v1::Task commit = Commit(0);
  commit.mutable_files(0)->clear_has_expected_crc32c();
  EXPECT_EQ(Run(commit).code(), Code(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DestinationTree(), ElementsAre("dst/.ferry-tmp.big.t-0000000000000001-0"));
}

TEST_F(ChunkedFileTest, AbortedChunkCancelsTheTask) {
  abort_ = true;
  FileCopier copier(&fs_, &clock_, Options());
  const v1::TaskReport report = copier.Execute(Chunk(0), &abort_, &bytes_done_);
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kCancelled));
  EXPECT_EQ(fs_.Count(FaultOp::kOpenOrCreateForWrite), 0);
}

}  // namespace
}  // namespace ferry::copyd
