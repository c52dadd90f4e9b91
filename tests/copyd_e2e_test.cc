// Issue 5's end-to-end tests of copyd between two clusters on 127.0.0.1, real processes
// only: cluster "a" (controller + two copyds) is the source, cluster "b" (its controller
// with --peer=a=<both of a's copyds>, two copyds, its own root and RocksDB directory)
// pulls from it.
//   - The hard tree: a 1 GiB file (copied in 16 chunks), a 256 MiB sparse file with
//     holes at its start, middle and end, 5,000 small files in ten directories, relative,
//     absolute and dangling symlinks, names with spaces, a newline and non-UTF-8 bytes,
//     empty files and empty directories. b's copy matches byte for byte, by type, file
//     mode and mtime (to the nanosecond), symlink target, and the sparse file keeps its
//     data extents (SEEK_DATA/SEEK_HOLE) and holes; directories have their source mode
//     and mtime (set last, by the transfer's FINALIZE_DIRS step). ferry does not
//     preserve the mtimes of symlinks. No temporary file is left.
//   - A flipped bit on the wire: a's copyds are //copyd:copyd_with_fault_hooks with
//     --testonly_corrupt_blocks: one corrupted block is refetched and the file arrives
//     intact; corruption of every block fails the file with DATA_LOSS naming the path
//     and the offset, and nothing appears at the target.
// Timings (tree creation, copy, comparison) are printed to the test log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/copy_service.pb.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kCopyTimeout = absl::Seconds(150);
constexpr off_t kMiB = 1 << 20;
constexpr off_t kLargeSize = 1024 * kMiB;
constexpr off_t kLargePiece = 4 * kMiB;
constexpr off_t kSparseSize = 256 * kMiB;
constexpr int kSmallDirs = 10;
constexpr int kSmallFilesPerDir = 500;
// An mtime with nanoseconds, so that a copy that rounds to seconds is caught.
constexpr timespec kOddMtime = {1600000000, 123456789};

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(errno)));
}

void WriteFile(const std::string& path, const std::string& data) {
  absl::Status written = e2e::WriteFile(path, data);
  ASSERT_TRUE(written.ok()) << written;
}

void MakeDir(const std::string& path, mode_t mode = 0755) {
  ASSERT_EQ(mkdir(path.c_str(), mode), 0) << path << ": " << strerror(errno);
}

void SetMtime(const std::string& path, timespec mtime) {
  const timespec times[2] = {mtime, mtime};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << strerror(errno);
}

// Writes `pieces` at their offsets of a file of `size` bytes (the rest stays a hole).
absl::Status WriteAt(const std::string& path, off_t size,
                     const std::vector<std::pair<off_t, std::string>>& pieces) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", path);
  absl::Status status;
  if (ftruncate(fd, size) != 0) status = Errno("ftruncate", path);
  for (const auto& [offset, data] : pieces) {
    if (!status.ok()) break;
    if (pwrite(fd, data.data(), data.size(), offset) != static_cast<ssize_t>(data.size())) {
      status = Errno("pwrite", path);
    }
  }
  if (close(fd) != 0 && status.ok()) status = Errno("close", path);
  return status;
}

// 1 GiB quickly: 4 MiB of random bytes repeated, each piece stamped with its index so
// that a chunk written at the wrong offset is caught.
absl::Status WriteLargeFile(const std::string& path) {
  std::string piece = e2e::RandomBytes(kLargePiece, 1);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("open", path);
  absl::Status status;
  for (off_t offset = 0; offset < kLargeSize && status.ok(); offset += kLargePiece) {
    const uint64_t index = offset / kLargePiece;
    memcpy(piece.data(), &index, sizeof(index));
    if (pwrite(fd, piece.data(), piece.size(), offset) != static_cast<ssize_t>(piece.size())) {
      status = Errno("pwrite", path);
    }
  }
  if (close(fd) != 0 && status.ok()) status = Errno("close", path);
  return status;
}

// The data extents of `path` as "start-end" (SEEK_DATA/SEEK_HOLE).
absl::StatusOr<std::vector<std::string>> DataExtents(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  std::vector<std::string> extents;
  absl::Status status;
  for (off_t offset = 0;;) {
    const off_t data = lseek(fd, offset, SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) status = Errno("SEEK_DATA", path);
      break;
    }
    const off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      status = Errno("SEEK_HOLE", path);
      break;
    }
    extents.push_back(absl::StrCat(data, "-", hole));
    offset = hole;
  }
  close(fd);
  if (!status.ok()) return status;
  return extents;
}

// The source tree under `src`; returns how many entries it holds below `src`.
int MakeHardTree(const std::string& src) {
  int entries = 0;
  absl::Status large = WriteLargeFile(src + "/large-1GiB.bin");
  EXPECT_TRUE(large.ok()) << large;
  ++entries;
  SetMtime(src + "/large-1GiB.bin", kOddMtime);
  // Holes at the start, in the middle and at the end; one extent straddles the 64 MiB
  // chunk boundary at 128 MiB.
  absl::Status sparse = WriteAt(src + "/sparse.bin", kSparseSize,
                                {{32 * kMiB, e2e::RandomBytes(kMiB, 2)},
                                 {127 * kMiB + kMiB / 2, e2e::RandomBytes(kMiB, 3)},
                                 {200 * kMiB, e2e::RandomBytes(3 * kMiB + 4096, 4)}});
  EXPECT_TRUE(sparse.ok()) << sparse;
  ++entries;
  SetMtime(src + "/sparse.bin", kOddMtime);
  for (int d = 0; d < kSmallDirs; ++d) {
    const std::string dir = absl::StrCat(src, "/small-", d);
    MakeDir(dir, d % 2 == 0 ? 0755 : 0750);
    ++entries;
    for (int f = 0; f < kSmallFilesPerDir; ++f) {
      const std::string file = absl::StrCat(dir, "/f", f);
      WriteFile(file, e2e::RandomBytes((f * 37 + d) % 4097, d * kSmallFilesPerDir + f));
      const mode_t mode = f % 7 == 0 ? 0600 : f % 11 == 0 ? 0755 : 0644;
      EXPECT_EQ(chmod(file.c_str(), mode), 0) << file;
      ++entries;
    }
  }
  // Odd names: bytes, not text.
  const std::string spaced = src + "/dir with spaces";
  MakeDir(spaced, 0700);
  WriteFile(spaced + "/file with  two spaces ", "spaces\n");
  WriteFile(src + "/new\nline", "a newline in the name\n");
  const std::string non_utf8 = src + "/\xff\xfe-not-utf8";
  MakeDir(non_utf8);
  WriteFile(non_utf8 + "/\x80\xc3(", "latin-1 and a broken sequence\n");
  entries += 5;
  WriteFile(src + "/empty", "");
  WriteFile(spaced + "/empty too", "");
  MakeDir(src + "/empty-dir");
  MakeDir(src + "/empty-tree");
  MakeDir(src + "/empty-tree/a");
  MakeDir(src + "/empty-tree/a/b", 0711);
  entries += 6;
  EXPECT_EQ(symlink("small-0/f1", (src + "/link-relative").c_str()), 0);
  EXPECT_EQ(symlink("/etc/hostname", (src + "/link-absolute").c_str()), 0);
  EXPECT_EQ(symlink("no/such/file", (src + "/link-dangling").c_str()), 0);
  EXPECT_EQ(symlink("../new\nline", (non_utf8 + "/link \xff").c_str()), 0);
  entries += 4;
  return entries;
}

// Every entry below `src` has its counterpart below `dst` with the same type; regular
// files the same mode, size and mtime; directories the same mode and mtime.
// Contents and symlink targets are CompareTrees' job. Returns the entries compared.
int CompareAttributes(const std::string& src, const std::string& dst) {
  int compared = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(src, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string rel = it->path().lexically_relative(src).string();
    const std::string copy = dst + "/" + rel;
    struct stat a, b;
    EXPECT_EQ(lstat(it->path().c_str(), &a), 0) << rel;
    if (lstat(copy.c_str(), &b) != 0) {
      ADD_FAILURE() << "missing in the copy: " << rel;
      continue;
    }
    ++compared;
    EXPECT_EQ(a.st_mode & S_IFMT, b.st_mode & S_IFMT) << rel;
    if (S_ISREG(a.st_mode)) {
      EXPECT_EQ(a.st_mode & 07777, b.st_mode & 07777) << rel;
      EXPECT_EQ(a.st_size, b.st_size) << rel;
      EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec) << rel;
      EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec) << rel;
    } else if (S_ISDIR(a.st_mode)) {
      // Set by the transfer's FINALIZE_DIRS step, after everything inside arrived.
      EXPECT_EQ(a.st_mode & 07777, b.st_mode & 07777) << rel;
      EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec) << rel;
      EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec) << rel;
    }
  }
  EXPECT_FALSE(error) << error.message();
  return compared;
}

// Paths below `root` whose name holds ".ferry-tmp.".
std::vector<std::string> TemporaryFiles(const std::string& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (absl::StrContains(entry.path().filename().string(), ".ferry-tmp.")) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

double Seconds(absl::Time since) { return absl::ToDoubleSeconds(absl::Now() - since); }

// Two clusters, a (the source) and b (pulls from both of a's copyds).
class CopydEndToEndTest : public ::testing::Test {
 protected:
  // Starts a's controller and two copyds of `copyd_binary` with `copyd_flags`, then b's.
  void StartClusters(const std::string& copyd_binary, std::vector<std::string> copyd_flags,
                     std::vector<std::string> b_controller_flags) {
    e2e::ClusterOptions options;
    options.name = "copyd-e2e-a";
    options.cluster = "a";
    options.copyd_binary = copyd_binary;
    options.copyd_flags = std::move(copyd_flags);
    absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> a = e2e::LocalCluster::Create(options);
    ASSERT_TRUE(a.ok()) << a.status();
    a_ = *std::move(a);
    ASSERT_TRUE(a_->StartController().ok());
    for (int index : {1, 2}) {
      absl::Status started = a_->StartCopyd(index);
      ASSERT_TRUE(started.ok()) << started;
    }

    e2e::ClusterOptions b_options;
    b_options.name = "copyd-e2e-b";
    b_options.cluster = "b";
    b_options.certificates = a_->certificates();
    b_options.controller_flags = {
        "--worker_timeout=5s", "--lease_duration=20s",
        absl::StrCat("--peer=a=", a_->copyd_address(1), ",", a_->copyd_address(2))};
    b_options.controller_flags.insert(b_options.controller_flags.end(),
                                      b_controller_flags.begin(), b_controller_flags.end());
    absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> b = e2e::LocalCluster::Create(b_options);
    ASSERT_TRUE(b.ok()) << b.status();
    b_ = *std::move(b);
    absl::Status started = b_->StartController();
    ASSERT_TRUE(started.ok()) << started;
    for (int index : {1, 2}) {
      started = b_->StartCopyd(index);
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  // Copies a:`from` to b:`to` (mode and mtime preserved) and waits for the end.
  absl::StatusOr<v1::Transfer> Copy(const std::string& id, const std::string& from,
                                    const std::string& to, bool recursive) {
    v1::CreateTransferRequest request;
    request.set_request_id(id);
    request.mutable_source()->set_cluster("a");
    request.mutable_source()->set_path(from);
    v1::Location* destination = request.add_destinations();
    destination->set_cluster("b");
    destination->set_path(to);
    request.set_recursive(recursive);
    request.mutable_preserve()->set_mode(true);
    request.mutable_preserve()->set_mtime(true);
    absl::StatusOr<v1::Transfer> created = b_->CreateTransfer(request);
    if (!created.ok()) return created.status();
    return b_->WaitForTransfer(created->id(), e2e::IsTerminal, absl::Now() + kCopyTimeout,
                               absl::Milliseconds(100));
  }

  // Every log of b's copyds, concatenated.
  std::string CopydLogsOfB() const {
    std::string logs;
    const std::string dir = harness::OutputDir();
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (!absl::StartsWith(name, "copyd-e2e-b-copyd-")) continue;
      absl::StatusOr<std::string> log = harness::ReadFile(entry.path().string());
      if (log.ok()) absl::StrAppend(&logs, *log);
    }
    return logs;
  }

  std::unique_ptr<e2e::LocalCluster> a_;
  std::unique_ptr<e2e::LocalCluster> b_;
};

TEST_F(CopydEndToEndTest, HardTreeArrivesIdenticalWithHolesModesAndMtimes) {
  ASSERT_NO_FATAL_FAILURE(StartClusters("copyd/copyd", {}, {}));
  const std::string src = a_->root().Join("tree");
  MakeDir(src);
  absl::Time start = absl::Now();
  const int entries = MakeHardTree(src);
  ASSERT_FALSE(HasFailure());
  std::cout << "timing: made the source tree (" << entries << " entries, 1 GiB + 256 MiB "
            << "sparse + 5,000 small files) in " << Seconds(start) << " s" << std::endl;

  start = absl::Now();
  absl::StatusOr<v1::Transfer> done = Copy("hard-tree", "/tree", "/tree", true);
  const double copy_seconds = Seconds(start);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->state(), v1::TRANSFER_STATE_SUCCEEDED) << done->DebugString();
  std::cout << "timing: copied a:/tree -> b:/tree (" << done->progress().files_total()
            << " files, " << done->progress().bytes_total() << " bytes) in " << copy_seconds
            << " s, " << done->progress().bytes_total() / copy_seconds / kMiB << " MiB/s"
            << std::endl;
  EXPECT_EQ(done->progress().files_total(), entries + 1);  // And /tree itself.
  EXPECT_EQ(done->progress().files_done(), done->progress().files_total());
  EXPECT_EQ(done->progress().files_failed(), 0);
  EXPECT_EQ(done->progress().bytes_done(), done->progress().bytes_total());

  start = absl::Now();
  const std::string dst = b_->root().Join("tree");
  absl::Status same = harness::CompareTrees(src, dst);
  EXPECT_TRUE(same.ok()) << same;
  EXPECT_EQ(CompareAttributes(src, dst), entries);
  std::cout << "timing: compared both trees in " << Seconds(start) << " s" << std::endl;

  // The holes stay holes: the same data extents, and far fewer blocks than the size.
  absl::StatusOr<std::vector<std::string>> source_extents = DataExtents(src + "/sparse.bin");
  absl::StatusOr<std::vector<std::string>> copy_extents = DataExtents(dst + "/sparse.bin");
  ASSERT_TRUE(source_extents.ok()) << source_extents.status();
  ASSERT_TRUE(copy_extents.ok()) << copy_extents.status();
  EXPECT_EQ(*copy_extents, *source_extents) << absl::StrJoin(*copy_extents, " ") << " vs "
                                            << absl::StrJoin(*source_extents, " ");
  struct stat sparse;
  ASSERT_EQ(stat((dst + "/sparse.bin").c_str(), &sparse), 0);
  EXPECT_LT(sparse.st_blocks * 512, 16 * kMiB) << "allocated " << sparse.st_blocks * 512;

  EXPECT_EQ(TemporaryFiles(b_->root().path()), std::vector<std::string>{});
  EXPECT_EQ(TemporaryFiles(a_->root().path()), std::vector<std::string>{});
  absl::StatusOr<std::string> log = b_->controller()->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(absl::StrContains(
      *log, absl::StrCat("committed /tree/large-1GiB.bin (", kLargeSize, " bytes in 16 chunks")))
      << "the 1 GiB file was not copied in 64 MiB chunks";
}

constexpr off_t kFlippedSize = 6 * kMiB + 1234;

TEST_F(CopydEndToEndTest, OneFlippedBitIsRefetchedAndRepaired) {
  ASSERT_NO_FATAL_FAILURE(StartClusters("copyd/copyd_with_fault_hooks",
                                        {"--testonly_corrupt_blocks=flip-me:1"}, {}));
  const std::string src = a_->root().Join("flip-me.bin");
  WriteFile(src, e2e::RandomBytes(kFlippedSize, 5));
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Transfer> done = Copy("flip-once", "/flip-me.bin", "/flipped.bin", false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::TRANSFER_STATE_SUCCEEDED) << done->DebugString();
  std::cout << "timing: copied a file with a flipped bit in " << Seconds(start) << " s"
            << std::endl;
  absl::Status same = harness::CompareTrees(src, b_->root().Join("flipped.bin"));
  EXPECT_TRUE(same.ok()) << same;
  const std::string logs = CopydLogsOfB();
  EXPECT_TRUE(absl::StrContains(logs, "CRC32C mismatch")) << logs;
  EXPECT_TRUE(absl::StrContains(logs, "refetching")) << logs;
}

TEST_F(CopydEndToEndTest, PersistentCorruptionFailsTheFileWithDataLoss) {
  ASSERT_NO_FATAL_FAILURE(StartClusters("copyd/copyd_with_fault_hooks",
                                        {"--testonly_corrupt_blocks=flip-me:-1"},
                                        {"--max_attempts=2", "--retry_backoff=100ms"}));
  const std::string src = a_->root().Join("flip-me.bin");
  WriteFile(src, e2e::RandomBytes(kFlippedSize, 6));
  absl::StatusOr<v1::Transfer> done = Copy("flip-always", "/flip-me.bin", "/broken.bin", false);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::TRANSFER_STATE_FAILED) << done->DebugString();
  EXPECT_EQ(done->progress().files_failed(), 1);
  bool named = false;
  for (const v1::Error& error : done->errors()) {
    if (error.code() == static_cast<int>(absl::StatusCode::kDataLoss) &&
        absl::StrContains(error.message(), "/flip-me.bin") &&
        absl::StrContains(error.message(), "offset")) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "no DATA_LOSS error naming the path and offset: "
                     << done->DebugString();
  EXPECT_FALSE(fs::exists(fs::symlink_status(b_->root().Join("broken.bin"))));
  EXPECT_EQ(TemporaryFiles(b_->root().path()), std::vector<std::string>{});
}

}  // namespace
}  // namespace ferry
