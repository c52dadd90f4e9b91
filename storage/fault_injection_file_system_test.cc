// The fault wrapper over both backends: injected errors and counts behave the same; a
// simulated crash is exact over the fake and best effort (as documented) over POSIX.
#include "storage/fault_injection_file_system.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Backend;
using testing::ReadAll;
using testing::WalkAll;
using testing::WriteFile;

class FaultInjectionTest : public ::testing::TestWithParam<Backend> {
 protected:
  FaultInjectionTest() : base_(testing::NewTestFileSystem(GetParam())), fs_(base_.get()) {}

  std::unique_ptr<FileSystem> base_;
  FaultInjectionFileSystem fs_;
};

TEST_P(FaultInjectionTest, PassesThroughAndCounts) {
  ASSERT_TRUE(WriteFile(fs_, "f", "data").ok());
  EXPECT_EQ(*ReadAll(fs_, "f"), "data");
  EXPECT_EQ(*ReadAll(*base_, "f"), "data");
  EXPECT_EQ(fs_.Count(FaultOp::kCreateTemp), 1);
  EXPECT_EQ(fs_.Count(FaultOp::kWrite), 1);
  EXPECT_EQ(fs_.Count(FaultOp::kRename), 1);
  EXPECT_EQ(fs_.Count(FaultOp::kOpenForRead), 1);
  EXPECT_EQ(fs_.Count(FaultOp::kRemove), 0);
}

TEST_P(FaultInjectionTest, InjectsEioOnMatchingPrefixOnly) {
  ASSERT_TRUE(WriteFile(fs_, "a", "1").ok());
  ASSERT_TRUE(WriteFile(fs_, "b", "2").ok());
  fs_.AddFault({FaultOp::kRead, "a", FaultKind::kEio});
  absl::StatusOr<std::string> a = ReadAll(fs_, "a");
  EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("(injected)"));
  EXPECT_EQ(*ReadAll(fs_, "b"), "2");
  fs_.ClearFaults();
  EXPECT_EQ(*ReadAll(fs_, "a"), "1");
}

TEST_P(FaultInjectionTest, SkipAndTimesBoundTheFailures) {
  fs_.AddFault({FaultOp::kStat, "", FaultKind::kEnospc, /*skip=*/1, /*times=*/2});
  EXPECT_TRUE(fs_.Stat("").ok());
  EXPECT_EQ(fs_.Stat("").status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fs_.Stat("").status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(fs_.Stat("").ok());
  EXPECT_EQ(fs_.Count(FaultOp::kStat), 4);
}

TEST_P(FaultInjectionTest, ShortWriteLandsHalfThenFailsWithEnospc) {
  fs_.AddFault({FaultOp::kWrite, "", FaultKind::kShortWrite});
  absl::StatusOr<TempFile> t = fs_.CreateTemp("f");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->file->WriteAt(0, "abcdef").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(*ReadAll(*base_, t->path), "abc");
}

TEST_P(FaultInjectionTest, RenameMatchesEitherSide) {
  ASSERT_TRUE(WriteFile(fs_, "src", "x").ok());
  fs_.AddFault({FaultOp::kRename, "dst", FaultKind::kEio});
  EXPECT_EQ(fs_.Rename("src", "dst", CommitMode::kReplace).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(base_->Stat("src").ok());  // Nothing happened.
}

TEST_P(FaultInjectionTest, CrashDropsUnsyncedTempAndInvalidatesHandles) {
  ASSERT_TRUE(WriteFile(fs_, "kept", "durable").ok());
  absl::StatusOr<TempFile> t = fs_.CreateTemp("lost");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "volatile").ok());
  fs_.SimulateCrash();
  EXPECT_THAT(*WalkAll(fs_, ""), ElementsAre("kept"));
  EXPECT_EQ(*ReadAll(fs_, "kept"), "durable");
  EXPECT_EQ(t->file->WriteAt(0, "x").code(), StatusCode::kFailedPrecondition);
}

TEST_P(FaultInjectionTest, CrashTruncatesDataWrittenAfterSync) {
  ASSERT_TRUE(WriteFile(fs_, "f", "0123").ok());
  auto w = fs_.OpenForWrite("f");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->WriteAt(4, "4567").ok());
  fs_.SimulateCrash();
  EXPECT_EQ(*ReadAll(fs_, "f"), "0123");
}

TEST_P(FaultInjectionTest, OpenOrCreateIsCountedFailsAndIsUndoneByACrash) {
  ASSERT_TRUE(WriteFile(fs_, "kept", "durable").ok());
  fs_.AddFault({FaultOp::kOpenOrCreateForWrite, "bad", FaultKind::kEnospc});
  EXPECT_EQ(fs_.OpenOrCreateForWrite("bad").status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fs_.Stat("bad").status().code(), StatusCode::kNotFound);
  auto created = fs_.OpenOrCreateForWrite("shared");
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE((*created)->WriteAt(0, "chunk").ok());
  auto existing = fs_.OpenOrCreateForWrite("kept");
  ASSERT_TRUE(existing.ok());
  ASSERT_TRUE((*existing)->WriteAt(7, "+more").ok());
  EXPECT_EQ(fs_.Count(FaultOp::kOpenOrCreateForWrite), 3);
  fs_.SimulateCrash();  // Neither the new file nor the appended bytes were synced.
  EXPECT_THAT(*WalkAll(fs_, ""), ElementsAre("kept"));
  EXPECT_EQ(*ReadAll(fs_, "kept"), "durable");
  EXPECT_EQ((*created)->WriteAt(0, "x").code(), StatusCode::kFailedPrecondition);
}

TEST_P(FaultInjectionTest, CrashRemovesRenameTargetWithoutDirSync) {
  ASSERT_TRUE(fs_.MakeDirs("d", 0755).ok());
  ASSERT_TRUE(fs_.SyncDir("").ok());
  absl::StatusOr<TempFile> t = fs_.CreateTemp("d/f");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "x").ok());
  ASSERT_TRUE(t->file->Sync().ok());
  ASSERT_TRUE(t->file->Close().ok());
  ASSERT_TRUE(fs_.Rename(t->path, "d/f", CommitMode::kNoReplace).ok());
  fs_.SimulateCrash();  // d was never synced after the rename.
  EXPECT_THAT(*WalkAll(fs_, ""), ElementsAre("d"));
}

TEST_P(FaultInjectionTest, SyncFileSystemIsCountedAndFails) {
  fs_.AddFault({FaultOp::kSyncFileSystem, "", FaultKind::kEio, /*skip=*/0, /*times=*/1});
  absl::Status failed = fs_.SyncFileSystem();
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.message()), HasSubstr("syncfs"));
  EXPECT_TRUE(fs_.SyncFileSystem().ok());
  EXPECT_EQ(fs_.Count(FaultOp::kSyncFileSystem), 2);
  EXPECT_EQ(fs_.Count(FaultOp::kSync), 0);
}

// Nothing synced file by file or directory by directory, yet a crash after
// SyncFileSystem keeps it all; a failed SyncFileSystem keeps nothing.
TEST_P(FaultInjectionTest, CrashAfterSyncFileSystemKeepsEverything) {
  ASSERT_TRUE(fs_.MakeDirs("d", 0755).ok());
  absl::StatusOr<TempFile> t = fs_.CreateTemp("d/f");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "data").ok());
  ASSERT_TRUE(t->file->Close().ok());
  ASSERT_TRUE(fs_.Rename(t->path, "d/f", CommitMode::kNoReplace).ok());
  auto grown = fs_.OpenOrCreateForWrite("d/g");
  ASSERT_TRUE(grown.ok());
  ASSERT_TRUE((*grown)->WriteAt(0, "grown").ok());
  ASSERT_TRUE(fs_.SyncFileSystem().ok());
  fs_.AddFault({FaultOp::kSyncFileSystem, "", FaultKind::kEio});
  ASSERT_TRUE(fs_.CreateSymlink("f", "d/l").ok());
  EXPECT_FALSE(fs_.SyncFileSystem().ok());
  fs_.SimulateCrash();
  EXPECT_THAT(*WalkAll(fs_, ""), ElementsAre("d", "d/f", "d/g"));
  EXPECT_EQ(*ReadAll(fs_, "d/f"), "data");
  EXPECT_EQ(*ReadAll(fs_, "d/g"), "grown");
}

TEST_P(FaultInjectionTest, CopyFromIsCountedAndWriteAndReadFaultsApply) {
  ASSERT_TRUE(WriteFile(fs_, "src", "abcdefgh").ok());
  auto source = fs_.OpenForRead("src");
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> dst = fs_.CreateTemp("dst");
  ASSERT_TRUE(dst.ok());
  const int64_t writes_before = fs_.Count(FaultOp::kWrite);
  fs_.AddFault({FaultOp::kWrite, dst->path, FaultKind::kEio, /*skip=*/0, /*times=*/1});
  absl::StatusOr<uint64_t> failed = dst->file->CopyFrom(**source, 0, 0, 8);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("copy"));
  fs_.AddFault({FaultOp::kCopyFrom, "", FaultKind::kShortWrite, /*skip=*/0, /*times=*/1});
  EXPECT_EQ(dst->file->CopyFrom(**source, 0, 0, 8).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(*ReadAll(*base_, dst->path), "abcd");  // Half the range landed.
  fs_.AddFault({FaultOp::kRead, "src", FaultKind::kEio, /*skip=*/0, /*times=*/1});
  EXPECT_EQ(dst->file->CopyFrom(**source, 0, 0, 8).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(*dst->file->CopyFrom(**source, 0, 0, 8), 8u);
  EXPECT_EQ(*ReadAll(*base_, dst->path), "abcdefgh");
  EXPECT_EQ(fs_.Count(FaultOp::kCopyFrom), 4);
  EXPECT_EQ(fs_.Count(FaultOp::kWrite), writes_before);  // Counted as copies only.
}

TEST_P(FaultInjectionTest, CrashDropsUnsyncedCopiedBytes) {
  ASSERT_TRUE(WriteFile(fs_, "src", "copied").ok());
  ASSERT_TRUE(WriteFile(fs_, "dst", "kept").ok());
  auto source = fs_.OpenForRead("src");
  auto dest = fs_.OpenForWrite("dst");
  ASSERT_TRUE(source.ok() && dest.ok());
  EXPECT_EQ(*(*dest)->CopyFrom(**source, 0, 4, 6), 6u);
  EXPECT_EQ(*ReadAll(fs_, "dst"), "keptcopied");
  fs_.SimulateCrash();
  EXPECT_EQ(*ReadAll(fs_, "dst"), "kept");
  EXPECT_EQ((*dest)->CopyFrom(**source, 0, 0, 1).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(FaultInjectionTest, LinkIsCountedFailsOnEitherPathAndIsUndoneByACrash) {
  ASSERT_TRUE(WriteFile(fs_, "f", "x").ok());
  ASSERT_TRUE(fs_.MakeDirs("d", 0755).ok());
  ASSERT_TRUE(fs_.SyncDir("").ok());
  fs_.AddFault({FaultOp::kLink, "d/", FaultKind::kEio, /*skip=*/0, /*times=*/1});
  EXPECT_EQ(fs_.Link("f", "d/g").code(), StatusCode::kUnavailable);
  EXPECT_EQ(base_->Stat("d/g").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(fs_.Link("f", "d/g").ok());
  EXPECT_EQ(fs_.Count(FaultOp::kLink), 2);
  fs_.SimulateCrash();  // d was not synced after the link.
  EXPECT_THAT(*WalkAll(fs_, ""), ElementsAre("d", "f"));
  EXPECT_EQ(fs_.Stat("f")->nlink, 1u);
}

TEST_P(FaultInjectionTest, SetOwnerIsCountedAndFails) {
  ASSERT_TRUE(WriteFile(fs_, "f", "x").ok());
  fs_.AddFault({FaultOp::kSetOwner, "f", FaultKind::kEio, /*skip=*/0, /*times=*/1});
  EXPECT_EQ(fs_.SetOwner("f", geteuid(), getegid()).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(fs_.SetOwner("f", geteuid(), getegid()).ok());  // Keeping one's own: allowed.
  EXPECT_EQ(fs_.Count(FaultOp::kSetOwner), 2);
  EXPECT_EQ(fs_.Stat("f")->uid, geteuid());
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultInjectionTest,
                         ::testing::Values(Backend::kPosix, Backend::kMem),
                         [](const auto& info) { return testing::BackendName(info.param); });

}  // namespace
}  // namespace ferry::storage
