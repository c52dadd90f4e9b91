// Unit tests of the POSIX backend: the basics of each operation on a real temporary
// root, plus what only a real disk has (FIFOs, symlinks made behind ferry's back,
// sparse files, the kernel's confinement). Shared semantics are in the conformance
// suite; hostile inputs in hostile_paths_test.cc.
#include "storage/posix_file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using testing::MakeTempDir;
using testing::RawReadFile;
using testing::RawWriteFile;
using testing::ReadAll;
using testing::WalkAll;
using testing::WriteFile;

class PosixFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    absl::StatusOr<std::unique_ptr<FileSystem>> fs = NewPosixFileSystem(root_);
    ASSERT_TRUE(fs.ok()) << fs.status();
    fs_ = *std::move(fs);
  }
  std::string Abs(const std::string& rel) const { return root_ + "/" + rel; }

  std::string root_;
  std::unique_ptr<FileSystem> fs_;
};

TEST(NewPosixFileSystemTest, RootMustBeADirectory) {
  const std::string dir = MakeTempDir();
  EXPECT_EQ(NewPosixFileSystem(dir + "/missing").status().code(), StatusCode::kNotFound);
  RawWriteFile(dir + "/file", "x");
  EXPECT_EQ(NewPosixFileSystem(dir + "/file").status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(PosixFileSystemTest, StatDescribesFilesDirsAndSymlinks) {
  RawWriteFile(Abs("f"), "hello");
  ASSERT_EQ(mkdir(Abs("d").c_str(), 0750), 0);
  ASSERT_EQ(symlink("/etc/passwd", Abs("l").c_str()), 0);

  absl::StatusOr<FileInfo> f = fs_->Stat("f");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->type, FileType::kRegular);
  EXPECT_EQ(f->size, 5u);
  EXPECT_EQ(f->path, "f");
  EXPECT_EQ(f->nlink, 1u);
  EXPECT_GT(f->mtime_ns, 0);

  EXPECT_EQ(fs_->Stat("d")->type, FileType::kDirectory);
  EXPECT_EQ(fs_->Stat("d")->mode, 0750u);
  absl::StatusOr<FileInfo> l = fs_->Stat("l");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->type, FileType::kSymlink);
  EXPECT_EQ(l->symlink_target, "/etc/passwd");
  EXPECT_EQ(fs_->Stat("")->type, FileType::kDirectory);
  EXPECT_EQ(fs_->Stat("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_->Stat("f/x").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(PosixFileSystemTest, WriteCommitAndReadBack) {
  ASSERT_TRUE(fs_->MakeDirs("a/b", 0755).ok());
  ASSERT_TRUE(WriteFile(*fs_, "a/b/file", "payload").ok());
  EXPECT_EQ(RawReadFile(Abs("a/b/file")), "payload");
  EXPECT_EQ(*ReadAll(*fs_, "a/b/file"), "payload");
  EXPECT_EQ(fs_->Stat("a/b/file")->mode, 0600u);  // Temporary files are private.
}

TEST_F(PosixFileSystemTest, CreateTempIsHiddenBesideTarget) {
  ASSERT_TRUE(fs_->MakeDirs("d", 0755).ok());
  absl::StatusOr<TempFile> t = fs_->CreateTemp("d/target");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->path, ::testing::StartsWith("d/.ferry-tmp.target."));
  struct stat st;
  ASSERT_EQ(lstat(Abs(t->path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(fs_->CreateTemp("missing/target").status().code(), StatusCode::kNotFound);

  absl::StatusOr<TempFile> long_name = fs_->CreateTemp("d/" + std::string(255, 'n'));
  ASSERT_TRUE(long_name.ok()) << long_name.status();
  EXPECT_EQ(long_name->path.size(), 2u + 255u);
}

TEST_F(PosixFileSystemTest, RenameModes) {
  RawWriteFile(Abs("a"), "A");
  RawWriteFile(Abs("b"), "B");
  EXPECT_EQ(fs_->Rename("a", "b", CommitMode::kNoReplace).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(RawReadFile(Abs("b")), "B");
  ASSERT_TRUE(fs_->Rename("a", "b", CommitMode::kReplace).ok());
  EXPECT_EQ(RawReadFile(Abs("b")), "A");
  EXPECT_EQ(fs_->Rename("a", "c", CommitMode::kReplace).code(), StatusCode::kNotFound);
}

TEST_F(PosixFileSystemTest, OpenForReadRefusesFifoWithoutBlocking) {
  ASSERT_EQ(mkfifo(Abs("fifo").c_str(), 0644), 0);
  EXPECT_EQ(fs_->OpenForRead("fifo").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_->OpenForWrite("fifo").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PosixFileSystemTest, OpenForReadRefusesSymlinksAndDirectories) {
  RawWriteFile(Abs("f"), "x");
  ASSERT_EQ(symlink("f", Abs("l").c_str()), 0);
  ASSERT_EQ(mkdir(Abs("d").c_str(), 0755), 0);
  EXPECT_EQ(fs_->OpenForRead("l").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_->OpenForRead("d").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs_->OpenForRead("").status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(PosixFileSystemTest, SymlinkedDirectoryIsNeverTraversed) {
  ASSERT_EQ(mkdir(Abs("real").c_str(), 0755), 0);
  RawWriteFile(Abs("real/f"), "x");
  ASSERT_EQ(symlink("real", Abs("link").c_str()), 0);
  absl::Status s = fs_->Stat("link/f").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("symlink in path"));
  EXPECT_EQ(fs_->OpenForRead("link/f").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PosixFileSystemTest, WalkIsSortedPreOrderAndResumable) {
  for (const char* d : {"b", "b/c", "a"}) ASSERT_EQ(mkdir(Abs(d).c_str(), 0755), 0);
  for (const char* f : {"b/c/x", "b/a", "a/z", "b-", "b0"}) RawWriteFile(Abs(f), f);
  ASSERT_EQ(symlink("b", Abs("s").c_str()), 0);
  EXPECT_THAT(*WalkAll(*fs_, ""),
              ElementsAre("a", "a/z", "b", "b/a", "b/c", "b/c/x", "b-", "b0", "s"));
  EXPECT_THAT(*WalkAll(*fs_, "b"), ElementsAre("b/a", "b/c", "b/c/x"));
  EXPECT_THAT(*WalkAll(*fs_, "b/a"), ElementsAre("b/a"));

  // Resume after every prefix of the walk: the rest must follow exactly.
  std::vector<std::string> all = *WalkAll(*fs_, "");
  std::string cursor;
  for (size_t done = 0; done <= all.size(); ++done) {
    auto walker = fs_->Walk("", cursor);
    ASSERT_TRUE(walker.ok()) << walker.status();
    std::vector<std::string> rest;
    FileInfo info;
    while (*(*walker)->Next(&info)) rest.push_back(info.path);
    EXPECT_EQ(rest, std::vector<std::string>(all.begin() + done, all.end()));
    auto step = fs_->Walk("", cursor);
    if (done < all.size()) {
      ASSERT_TRUE(*(*step)->Next(&info));
      cursor = (*step)->Cursor();
    }
  }
  EXPECT_EQ(fs_->Walk("", "garbage").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(PosixFileSystemTest, DataExtentsSkipHoles) {
  const int fd = open(Abs("sparse").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  const off_t mib = 1 << 20;
  ASSERT_EQ(pwrite(fd, "data", 4, 0), 4);
  ASSERT_EQ(pwrite(fd, "tail", 4, 4 * mib), 4);
  close(fd);
  auto file = fs_->OpenForRead("sparse");
  ASSERT_TRUE(file.ok());
  auto extents = (*file)->DataExtents(0, 8 * mib);
  ASSERT_TRUE(extents.ok()) << extents.status();
  ASSERT_GE(extents->size(), 1u);
  // The file system may round data regions to blocks, but the middle must be a hole.
  EXPECT_EQ(extents->front().offset, 0u);
  EXPECT_LT(extents->front().length, uint64_t{mib});
  EXPECT_LE(extents->back().offset, uint64_t{4 * mib});
  EXPECT_EQ(extents->back().offset + extents->back().length, uint64_t{4 * mib + 4});
  char buf[8];
  EXPECT_EQ(*(*file)->ReadAt(4 * mib, buf, sizeof buf), 4u);
}

TEST_F(PosixFileSystemTest, SetModeAndMtimeDoesNotFollowSymlinks) {
  RawWriteFile(Abs("f"), "x");
  ASSERT_EQ(symlink("f", Abs("l").c_str()), 0);
  const int64_t when = int64_t{1700000000} * 1000000000 + 123456789;
  ASSERT_TRUE(fs_->SetModeAndMtime("f", 0640, when).ok());
  EXPECT_EQ(fs_->Stat("f")->mode, 0640u);
  EXPECT_EQ(fs_->Stat("f")->mtime_ns, when);
  ASSERT_TRUE(fs_->SetModeAndMtime("l", 0777, when + 1).ok());
  EXPECT_EQ(fs_->Stat("f")->mode, 0640u);
  EXPECT_EQ(fs_->Stat("f")->mtime_ns, when);
  EXPECT_EQ(fs_->Stat("l")->mtime_ns, when + 1);
}

TEST_F(PosixFileSystemTest, MakeDirsRemoveAndFreeSpace) {
  ASSERT_TRUE(fs_->MakeDirs("x/y/z", 0700).ok());
  EXPECT_TRUE(fs_->MakeDirs("x/y", 0700).ok());
  EXPECT_EQ(fs_->Stat("x/y/z")->mode, 0700u);
  RawWriteFile(Abs("x/file"), "");
  EXPECT_EQ(fs_->MakeDirs("x/file/sub", 0700).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs_->Remove("x/y").code(), StatusCode::kFailedPrecondition);  // Not empty.
  EXPECT_TRUE(fs_->Remove("x/y/z").ok());
  EXPECT_TRUE(fs_->Remove("x/file").ok());
  EXPECT_EQ(fs_->Remove("x/file").code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_->Remove("").code(), StatusCode::kInvalidArgument);
  absl::StatusOr<SpaceInfo> space = fs_->FreeSpace();
  ASSERT_TRUE(space.ok());
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->available_bytes, space->total_bytes);
}

TEST_F(PosixFileSystemTest, CreateSymlinkStoresTextVerbatim) {
  ASSERT_TRUE(fs_->CreateSymlink("../../outside", "l").ok());
  char buf[64];
  ssize_t n = readlink(Abs("l").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "../../outside");
  EXPECT_EQ(fs_->CreateSymlink("", "m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs_->CreateSymlink("x", "l").code(), StatusCode::kFailedPrecondition);
}

// Between two file systems copy_file_range fails with EXDEV: CopyFrom falls back to a
// buffer and still keeps the holes.
TEST_F(PosixFileSystemTest, CopyFromAcrossFileSystemsFallsBackAndKeepsHoles) {
  char shm_template[] = "/dev/shm/ferry-copy-XXXXXX";
  if (mkdtemp(shm_template) == nullptr) GTEST_SKIP() << "no /dev/shm here";
  const std::string other_root = shm_template;
  struct stat here, there;
  ASSERT_EQ(stat(root_.c_str(), &here), 0);
  ASSERT_EQ(stat(other_root.c_str(), &there), 0);
  if (here.st_dev == there.st_dev) {
    EXPECT_EQ(rmdir(other_root.c_str()), 0);
    GTEST_SKIP() << "/dev/shm is on the same file system as the test's root";
  }
  absl::StatusOr<std::unique_ptr<FileSystem>> other = NewPosixFileSystem(other_root);
  ASSERT_TRUE(other.ok()) << other.status();
  const off_t mib = 1 << 20;
  const int fd = open((other_root + "/src").c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  const std::string block(64 * 1024, 'q');
  EXPECT_EQ(pwrite(fd, block.data(), block.size(), mib), static_cast<ssize_t>(block.size()));
  EXPECT_EQ(ftruncate(fd, 3 * mib), 0);
  close(fd);
  auto source = (*other)->OpenForRead("src");
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> dst = fs_->CreateTemp("dst");
  ASSERT_TRUE(dst.ok());
  EXPECT_EQ(*dst->file->CopyFrom(**source, 0, 0, 3 * mib), uint64_t{3 * mib});
  auto copied = fs_->OpenForRead(dst->path);
  ASSERT_TRUE(copied.ok());
  auto extents = (*copied)->DataExtents(0, 3 * mib);
  ASSERT_TRUE(extents.ok());
  ASSERT_EQ(extents->size(), 1u);
  EXPECT_EQ((*extents)[0].offset, uint64_t{mib});
  EXPECT_EQ((*extents)[0].length, block.size());
  std::string read_back(block.size(), '\0');
  EXPECT_EQ(*(*copied)->ReadAt(mib, read_back.data(), read_back.size()), block.size());
  EXPECT_EQ(read_back, block);
  EXPECT_EQ(unlink((other_root + "/src").c_str()), 0);
  EXPECT_EQ(rmdir(other_root.c_str()), 0);
}

TEST_F(PosixFileSystemTest, WritableFileLifecycle) {
  RawWriteFile(Abs("f"), "0123456789");
  auto file = fs_->OpenForWrite("f");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->WriteAt(2, "ab").ok());
  ASSERT_TRUE((*file)->Truncate(6).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE((*file)->Close().ok());
  EXPECT_EQ((*file)->WriteAt(0, "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(RawReadFile(Abs("f")), "01ab45");
}

}  // namespace
}  // namespace ferry::storage
