// DirFinalizer over the in-memory file system: exact modes (a read-only one too) and
// mtimes, what is left alone without preserve, per-entry failures, owners with and
// without the right to set them, durability, a failed sync and an abort.
#include "copyd/dir_finalizer.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/fault_injection_file_system.h"
#include "storage/mem_file_system.h"

namespace ferry::copyd {
namespace {

using ::testing::HasSubstr;
using storage::FaultKind;
using storage::FaultOp;

constexpr int64_t kSourceMtime = 1'600'000'000'123'456'789;

int32_t Code(absl::StatusCode code) { return static_cast<int32_t>(code); }

class DirFinalizerTest : public ::testing::Test {
 protected:
  DirFinalizerTest() : fs_(&mem_) {
    EXPECT_TRUE(mem_.MakeDirs("dst/a/b", 0700).ok());
    EXPECT_TRUE(mem_.MakeDirs("dst/c", 0755).ok());
    mem_.SyncAll();
  }

  // The FileTask finalizing /<path> as a source directory of `mode`, kSourceMtime and
  // the given owner.
  static v1::FileTask Dir(const std::string& path, uint32_t mode, uint32_t uid = geteuid(),
                          uint32_t gid = getegid()) {
    v1::FileTask file;
    file.set_source_path("/src/" + path);
    file.set_destination_path("/" + path);
    v1::FileInfo* info = file.mutable_source_info();
    info->set_type(v1::FILE_TYPE_DIRECTORY);
    info->set_mode(mode);
    info->set_mtime_ns(kSourceMtime);
    info->set_uid(uid);
    info->set_gid(gid);
    return file;
  }

  static v1::Task Task(std::initializer_list<v1::FileTask> dirs, bool preserve = true,
                       bool owner = false) {
    v1::Task task;
    task.set_task_id("t-9");
    task.set_lease_generation(4);
    task.set_kind(v1::TASK_KIND_FINALIZE_DIRS);
    task.mutable_preserve()->set_mode(preserve);
    task.mutable_preserve()->set_mtime(preserve);
    task.mutable_preserve()->set_owner(owner);
    for (const v1::FileTask& dir : dirs) *task.add_files() = dir;
    return task;
  }

  v1::TaskReport Run(const v1::Task& task, bool can_set_owner = false) {
    return DirFinalizer(&fs_, can_set_owner).Execute(task, &abort_);
  }

  storage::FileInfo StatOf(const std::string& path) {
    absl::StatusOr<storage::FileInfo> info = mem_.Stat(path);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : storage::FileInfo();
  }

  storage::MemFileSystem mem_;
  storage::FaultInjectionFileSystem fs_;
  std::atomic<bool> abort_{false};
};

TEST_F(DirFinalizerTest, SetsModeAndMtimeExactlyAndDurably) {
  const v1::TaskReport report =
      Run(Task({Dir("dst/a", 0555), Dir("dst/a/b", 02750), Dir("dst/c", 0700)}));
  EXPECT_EQ(report.task_id(), "t-9");
  EXPECT_EQ(report.lease_generation(), 4u);
  EXPECT_EQ(report.code(), 0);
  ASSERT_EQ(report.files_size(), 3);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  EXPECT_EQ(fs_.Count(FaultOp::kSyncFileSystem), 1);
  fs_.SimulateCrash();
  EXPECT_EQ(StatOf("dst/a").mode, 0555u);  // Read-only, as the source.
  EXPECT_EQ(StatOf("dst/a/b").mode, 02750u);
  EXPECT_EQ(StatOf("dst/c").mode, 0700u);
  for (const char* path : {"dst/a", "dst/a/b", "dst/c"}) {
    EXPECT_EQ(StatOf(path).mtime_ns, kSourceMtime) << path;
  }
}

TEST_F(DirFinalizerTest, OneDirectoryIsSyncedAloneAndSurvivesACrash) {
  ASSERT_EQ(Run(Task({Dir("dst/c", 0711)})).files(0).code(), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kSyncFileSystem), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kSyncDir), 1);
  fs_.SimulateCrash();
  EXPECT_EQ(StatOf("dst/c").mode, 0711u);
  EXPECT_EQ(StatOf("dst/c").mtime_ns, kSourceMtime);
}

TEST_F(DirFinalizerTest, WithoutPreserveLeavesModeAndMtimeAlone) {
  const storage::FileInfo before = StatOf("dst/c");
  ASSERT_EQ(Run(Task({Dir("dst/c", 0500)}, /*preserve=*/false)).files(0).code(), 0);
  EXPECT_EQ(StatOf("dst/c").mode, before.mode);
  EXPECT_EQ(StatOf("dst/c").mtime_ns, before.mtime_ns);
  EXPECT_EQ(fs_.Count(FaultOp::kSetModeAndMtime), 0);

  // Only the mtime: the mode stays.
  v1::Task mtime_only = Task({Dir("dst/c", 0500)});
  mtime_only.mutable_preserve()->set_mode(false);
  ASSERT_EQ(Run(mtime_only).files(0).code(), 0);
  EXPECT_EQ(StatOf("dst/c").mode, before.mode);
  EXPECT_EQ(StatOf("dst/c").mtime_ns, kSourceMtime);

  // Only the mode: the mtime stays.
  ASSERT_TRUE(mem_.SetModeAndMtime("dst/c", 0755, kSourceMtime + 5).ok());
  v1::Task mode_only = Task({Dir("dst/c", 0500)});
  mode_only.mutable_preserve()->set_mtime(false);
  ASSERT_EQ(Run(mode_only).files(0).code(), 0);
  EXPECT_EQ(StatOf("dst/c").mode, 0500u);
  EXPECT_EQ(StatOf("dst/c").mtime_ns, kSourceMtime + 5);
}

TEST_F(DirFinalizerTest, AMissingOrReplacedDirectoryFailsThatEntryOnly) {
  ASSERT_TRUE(mem_.CreateSymlink("c", "dst/file-now").ok());  // Not followed.
  v1::FileTask escaping = Dir("dst/c", 0555);
  escaping.set_destination_path("/dst/../../etc");
  const v1::TaskReport report = Run(Task(
      {Dir("dst/gone", 0555), Dir("dst/c", 0555), Dir("dst/file-now", 0555), escaping}));
  EXPECT_EQ(report.code(), 0);
  ASSERT_EQ(report.files_size(), 4);
  EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kNotFound));
  EXPECT_EQ(report.files(1).code(), 0) << report.files(1).message();
  EXPECT_EQ(report.files(2).code(), Code(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(report.files(2).message(), HasSubstr("not a directory"));
  EXPECT_EQ(report.files(3).code(), Code(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(report.files(3).message(), HasSubstr("destination_path"));
  EXPECT_EQ(StatOf("dst/c").mode, 0555u);
  EXPECT_EQ(StatOf("dst/file-now").type, storage::FileType::kSymlink);
}

TEST_F(DirFinalizerTest, AFailedSyncFailsTheEntriesThatHadSucceeded) {
  fs_.AddFault({FaultOp::kSyncFileSystem, "", FaultKind::kEio});
  const v1::TaskReport report = Run(Task({Dir("dst/gone", 0555), Dir("dst/c", 0555)}));
  ASSERT_EQ(report.files_size(), 2);
  EXPECT_EQ(report.files(0).code(), Code(absl::StatusCode::kNotFound));
  EXPECT_EQ(report.files(1).code(), Code(absl::StatusCode::kUnavailable));
}

TEST_F(DirFinalizerTest, OwnersAreNotSetWhenThisCopydMayNotSetThem) {
  const v1::TaskReport report =
      Run(Task({Dir("dst/c", 0555, geteuid() + 1, getegid() + 1)}, true, /*owner=*/true),
          /*can_set_owner=*/false);
  ASSERT_EQ(report.files_size(), 1);
  EXPECT_EQ(report.files(0).code(), 0) << report.files(0).message();
  EXPECT_EQ(fs_.Count(FaultOp::kSetOwner), 0);
  EXPECT_EQ(StatOf("dst/c").uid, geteuid());
  EXPECT_EQ(StatOf("dst/c").mode, 0555u);
}

TEST_F(DirFinalizerTest, OwnersAreSetBeforeTheModeWhenThisCopydMaySetThem) {
  if (geteuid() != 0) GTEST_SKIP() << "only root may give a directory away";
  // Not asked: nothing set, whatever the copyd may do.
  ASSERT_EQ(Run(Task({Dir("dst/c", 0555, 1234, 5678)}), true).files(0).code(), 0);
  EXPECT_EQ(fs_.Count(FaultOp::kSetOwner), 0);

  const v1::TaskReport report =
      Run(Task({Dir("dst/a", 03755, 1234, 5678), Dir("dst/c", 0555, 1234, 5678)}, true,
               /*owner=*/true),
          /*can_set_owner=*/true);
  ASSERT_EQ(report.files_size(), 2);
  for (const v1::FileResult& result : report.files()) {
    EXPECT_EQ(result.code(), 0) << result.message();
  }
  fs_.SimulateCrash();
  EXPECT_EQ(StatOf("dst/a").uid, 1234u);
  EXPECT_EQ(StatOf("dst/a").gid, 5678u);
  EXPECT_EQ(StatOf("dst/a").mode, 03755u);
  EXPECT_EQ(StatOf("dst/c").uid, 1234u);
}

TEST_F(DirFinalizerTest, AnAbortCancelsTheTask) {
  abort_ = true;
  const v1::TaskReport report = Run(Task({Dir("dst/c", 0555)}));
  EXPECT_EQ(report.code(), Code(absl::StatusCode::kCancelled));
  EXPECT_EQ(report.files_size(), 0);
  EXPECT_EQ(StatOf("dst/c").mode, 0755u);
}

}  // namespace
}  // namespace ferry::copyd
