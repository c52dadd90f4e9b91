// What only the fake has: its durability model (DropUnsyncedData), capacity, special
// files. Shared semantics are tested against both backends in the conformance suite.
#include "storage/mem_file_system.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/path.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using testing::ReadAll;
using testing::WalkAll;
using testing::WriteFile;

// Writes `data` to a new temporary file beside `path` and renames it there, syncing
// only what the flags say: the steps whose omission a crash test must catch.
void Commit(MemFileSystem& fs, const std::string& path, const std::string& data,
            bool sync_file, bool sync_dir) {
  absl::StatusOr<TempFile> t = fs.CreateTemp(path);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->file->WriteAt(0, data).ok());
  if (sync_file) {
    ASSERT_TRUE(t->file->Sync().ok());
  }
  ASSERT_TRUE(t->file->Close().ok());
  ASSERT_TRUE(fs.Rename(t->path, path, CommitMode::kReplace).ok());
  if (sync_dir) {
    ASSERT_TRUE(fs.SyncDir(std::string(Dirname(path))).ok());
  }
}

TEST(MemFileSystemCrashTest, FullySyncedCommitSurvives) {
  MemFileSystem fs;
  Commit(fs, "f", "data", /*sync_file=*/true, /*sync_dir=*/true);
  fs.DropUnsyncedData();
  EXPECT_EQ(*ReadAll(fs, "f"), "data");
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre("f"));  // No temporary left behind.
}

TEST(MemFileSystemCrashTest, UnsyncedDataIsLostButEntrySurvives) {
  MemFileSystem fs;
  Commit(fs, "f", "data", /*sync_file=*/false, /*sync_dir=*/true);
  fs.DropUnsyncedData();
  EXPECT_EQ(*ReadAll(fs, "f"), "");  // The classic rename-without-fsync bug.
}

TEST(MemFileSystemCrashTest, UnsyncedDirectoryLosesRenameAndCreate) {
  MemFileSystem fs;
  Commit(fs, "f", "data", /*sync_file=*/true, /*sync_dir=*/false);
  fs.DropUnsyncedData();
  EXPECT_EQ(fs.Stat("f").status().code(), StatusCode::kNotFound);
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre());
}

TEST(MemFileSystemCrashTest, ReplacedTargetComesBackIfRenameNotSynced) {
  MemFileSystem fs;
  Commit(fs, "f", "old", true, true);
  Commit(fs, "f", "new", true, false);
  fs.DropUnsyncedData();
  EXPECT_EQ(*ReadAll(fs, "f"), "old");
}

TEST(MemFileSystemCrashTest, RemoveIsUndoneWithoutSyncDir) {
  MemFileSystem fs;
  Commit(fs, "f", "x", true, true);
  ASSERT_TRUE(fs.Remove("f").ok());
  fs.DropUnsyncedData();
  EXPECT_EQ(*ReadAll(fs, "f"), "x");
  ASSERT_TRUE(fs.Remove("f").ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  fs.DropUnsyncedData();
  EXPECT_EQ(fs.Stat("f").status().code(), StatusCode::kNotFound);
}

TEST(MemFileSystemCrashTest, OverwriteAfterSyncRevertsToSyncedBytes) {
  MemFileSystem fs;
  Commit(fs, "f", "0123456789", true, true);
  auto w = fs.OpenForWrite("f");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->WriteAt(2, "xx").ok());
  ASSERT_TRUE((*w)->Truncate(5).ok());
  EXPECT_EQ(*ReadAll(fs, "f"), "01xx4");
  fs.DropUnsyncedData();
  EXPECT_EQ(*ReadAll(fs, "f"), "0123456789");
}

TEST(MemFileSystemCrashTest, NewDirectoryNeedsParentSync) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("a/b", 0755).ok());
  ASSERT_TRUE(fs.SyncDir("").ok());  // "a" is durable, "a/b" is not.
  fs.DropUnsyncedData();
  EXPECT_TRUE(fs.Stat("a").ok());
  EXPECT_EQ(fs.Stat("a/b").status().code(), StatusCode::kNotFound);
}

TEST(MemFileSystemCrashTest, SyncAllMakesEverythingDurable) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("a/b", 0755).ok());
  ASSERT_TRUE(WriteFile(fs, "a/b/f", "x").ok());
  ASSERT_TRUE(fs.CreateSymlink("f", "a/b/l").ok());
  fs.SyncAll();
  fs.DropUnsyncedData();
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre("a", "a/b", "a/b/f", "a/b/l"));
}

// copyd's commit of many small files: write all, one SyncFileSystem, rename all, one
// SyncFileSystem; no Sync or SyncDir.
TEST(MemFileSystemCrashTest, SyncFileSystemBeforeAndAfterRenamesCommitsATask) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("d/e", 0755).ok());
  std::vector<TempFile> temps;
  for (const char* target : {"d/a", "d/e/b"}) {
    absl::StatusOr<TempFile> t = fs.CreateTemp(target);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->file->WriteAt(0, target).ok());
    ASSERT_TRUE(t->file->Close().ok());
    temps.push_back(*std::move(t));
  }
  ASSERT_TRUE(fs.SyncFileSystem().ok());
  ASSERT_TRUE(fs.Rename(temps[0].path, "d/a", CommitMode::kNoReplace).ok());
  ASSERT_TRUE(fs.Rename(temps[1].path, "d/e/b", CommitMode::kNoReplace).ok());
  ASSERT_TRUE(fs.SyncFileSystem().ok());
  ASSERT_TRUE(fs.CreateTemp("d/late").ok());  // After the last sync: lost.
  fs.DropUnsyncedData();
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre("d", "d/a", "d/e", "d/e/b"));
  EXPECT_EQ(*ReadAll(fs, "d/a"), "d/a");
  EXPECT_EQ(*ReadAll(fs, "d/e/b"), "d/e/b");
}

TEST(MemFileSystemCrashTest, RenamesAfterTheLastSyncFileSystemAreLost) {
  MemFileSystem fs;
  absl::StatusOr<TempFile> t = fs.CreateTemp("f");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "data").ok());
  ASSERT_TRUE(fs.SyncFileSystem().ok());
  ASSERT_TRUE(fs.Rename(t->path, "f", CommitMode::kNoReplace).ok());
  fs.DropUnsyncedData();
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre(t->path));
  EXPECT_EQ(*ReadAll(fs, t->path), "data");
}

TEST(MemFileSystemCrashTest, LinkNeedsItsDirectorySynced) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.MakeDirs("a", 0755).ok());
  ASSERT_TRUE(fs.MakeDirs("b", 0755).ok());
  ASSERT_TRUE(WriteFile(fs, "a/f", "x").ok());
  ASSERT_TRUE(fs.SyncDir("").ok());
  ASSERT_TRUE(fs.Link("a/f", "b/lost").ok());
  ASSERT_TRUE(fs.Link("a/f", "a/kept").ok());
  ASSERT_TRUE(fs.SyncDir("a").ok());
  EXPECT_EQ(fs.Stat("a/f")->nlink, 3u);
  fs.DropUnsyncedData();
  EXPECT_THAT(*WalkAll(fs, ""), ElementsAre("a", "a/f", "a/kept", "b"));
  EXPECT_EQ(fs.Stat("a/f")->nlink, 2u);  // Counts follow the surviving names.
  EXPECT_EQ(fs.Stat("a/kept")->inode, fs.Stat("a/f")->inode);
}

TEST(MemFileSystemCrashTest, OwnerIsDurableWithTheFileSync) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a file away needs root";
  MemFileSystem fs;
  ASSERT_TRUE(WriteFile(fs, "f", "x").ok());
  ASSERT_TRUE(WriteFile(fs, "g", "y").ok());
  ASSERT_TRUE(fs.SetOwner("f", 65534, 65534).ok());
  ASSERT_TRUE(fs.SetOwner("g", 65534, 65534).ok());
  auto g = fs.OpenForWrite("g");
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE((*g)->Sync().ok());
  fs.DropUnsyncedData();
  EXPECT_EQ(fs.Stat("f")->uid, 0u);  // Never synced: the change is lost.
  EXPECT_EQ(fs.Stat("g")->uid, 65534u);
  ASSERT_TRUE(fs.SetOwner("f", 65534, 65534).ok());
  ASSERT_TRUE(fs.SyncFileSystem().ok());
  fs.DropUnsyncedData();
  EXPECT_EQ(fs.Stat("f")->gid, 65534u);
}

TEST(MemFileSystemTest, HardLinkedBytesAreFreedWithTheLastName) {
  MemFileSystem fs(/*capacity_bytes=*/100);
  ASSERT_TRUE(WriteFile(fs, "f", std::string(40, 'x')).ok());
  ASSERT_TRUE(fs.Link("f", "g").ok());
  EXPECT_EQ(fs.FreeSpace()->available_bytes, 60u);  // One inode, counted once.
  ASSERT_TRUE(WriteFile(fs, "h", "y").ok());
  ASSERT_TRUE(fs.Rename("h", "f", CommitMode::kReplace).ok());  // f's old inode lives on.
  EXPECT_EQ(fs.FreeSpace()->available_bytes, 59u);
  EXPECT_EQ(*ReadAll(fs, "g"), std::string(40, 'x'));
  ASSERT_TRUE(fs.Remove("g").ok());
  EXPECT_EQ(fs.FreeSpace()->available_bytes, 99u);
}

TEST(MemFileSystemTest, CapacityIsEnforcedAndReported) {
  MemFileSystem fs(/*capacity_bytes=*/10);
  absl::StatusOr<TempFile> t = fs.CreateTemp("f");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "12345678").ok());
  EXPECT_EQ(fs.FreeSpace()->available_bytes, 2u);
  EXPECT_EQ(t->file->WriteAt(8, "abc").code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(t->file->WriteAt(0, "abcdefgh").ok());  // Overwrite needs no new space.
  ASSERT_TRUE(t->file->Truncate(1 << 20).ok());        // A hole needs none either.
  ASSERT_TRUE(fs.Remove(t->path).ok());
  EXPECT_EQ(fs.FreeSpace()->available_bytes, 10u);
}

TEST(MemFileSystemTest, ExtentsTrackWrittenRegions) {
  MemFileSystem fs;
  absl::StatusOr<TempFile> t = fs.CreateTemp("f");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "aa").ok());
  ASSERT_TRUE(t->file->WriteAt(100, "bb").ok());
  ASSERT_TRUE(t->file->WriteAt(102, "cc").ok());  // Touching: merged.
  auto r = fs.OpenForRead(t->path);
  ASSERT_TRUE(r.ok());
  auto extents = (*r)->DataExtents(0, 1000);
  ASSERT_TRUE(extents.ok());
  ASSERT_EQ(extents->size(), 2u);
  EXPECT_EQ((*extents)[0].offset, 0u);
  EXPECT_EQ((*extents)[0].length, 2u);
  EXPECT_EQ((*extents)[1].offset, 100u);
  EXPECT_EQ((*extents)[1].length, 4u);
  extents = (*r)->DataExtents(101, 2);
  ASSERT_EQ(extents->size(), 1u);
  EXPECT_EQ((*extents)[0].offset, 101u);
  EXPECT_EQ((*extents)[0].length, 2u);
}

TEST(MemFileSystemTest, SpecialFilesAreRefused) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.MakeSpecialFile("fifo").ok());
  EXPECT_EQ(fs.Stat("fifo")->type, FileType::kOther);
  EXPECT_EQ(fs.OpenForRead("fifo").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs.Link("fifo", "f2").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ferry::storage
