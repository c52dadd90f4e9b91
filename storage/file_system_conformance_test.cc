// One suite, every backend: the POSIX file system and the in-memory fake must agree on
// every observable behaviour (results, status codes, walk order, cursors), so tests
// written against the fake say something about production.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/file_system.h"
#include "storage/path.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using absl::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testing::Backend;
using testing::BuildTree;
using testing::ReadAll;
using testing::WalkAll;
using testing::WriteFile;

constexpr uint64_t kMiB = uint64_t{1} << 20;

class ConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  ConformanceTest() : fs_(testing::NewTestFileSystem(GetParam())) {}
  FileSystem& fs() { return *fs_; }

  std::unique_ptr<FileSystem> fs_;
};

// --- Stat and paths --------------------------------------------------------------------

TEST_P(ConformanceTest, StatReportsTypeSizeAndPath) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=hello", "d/l->f"}).ok());
  absl::StatusOr<FileInfo> f = fs().Stat("d/f");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->path, "d/f");
  EXPECT_EQ(f->type, FileType::kRegular);
  EXPECT_EQ(f->size, 5u);
  EXPECT_EQ(f->nlink, 1u);
  absl::StatusOr<FileInfo> l = fs().Stat("d/l");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->type, FileType::kSymlink);
  EXPECT_EQ(l->size, 1u);
  EXPECT_EQ(l->symlink_target, "f");
  EXPECT_EQ(fs().Stat("d")->type, FileType::kDirectory);
  EXPECT_EQ(fs().Stat("")->type, FileType::kDirectory);
  EXPECT_NE(fs().Stat("d/f")->inode, fs().Stat("d")->inode);
}

TEST_P(ConformanceTest, StatErrors) {
  ASSERT_TRUE(BuildTree(fs(), {"f=x", "l->.", "d/"}).ok());
  absl::Status missing = fs().Stat("nope").status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("\"nope\""));
  EXPECT_EQ(fs().Stat("d/nope/x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().Stat("f/x").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().Stat("l/f").status().code(), StatusCode::kInvalidArgument);
  for (const char* bad : {"/f", "f/", "./f", "d/../f", "d//f", ".."}) {
    EXPECT_EQ(fs().Stat(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_P(ConformanceTest, OddNamesRoundTrip) {
  const std::vector<std::string> names = {"new\nline", "\xff\xfe bytes", "tab\there",
                                          "\xe2\x88\x95slash", "\xe2\x80\xa4\xe2\x80\xa4",
                                          " ", "-", std::string(255, 'n')};
  for (const std::string& n : names) {
    ASSERT_TRUE(WriteFile(fs(), n, n).ok()) << PathForMessage(n);
    EXPECT_EQ(*ReadAll(fs(), n), n);
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(*WalkAll(fs(), ""), sorted);
}

// --- Reading and writing ---------------------------------------------------------------

TEST_P(ConformanceTest, ReadAtStopsAtEndOfFile) {
  ASSERT_TRUE(WriteFile(fs(), "f", "0123456789").ok());
  auto file = fs().OpenForRead("f");
  ASSERT_TRUE(file.ok());
  char buf[8];
  EXPECT_EQ(*(*file)->ReadAt(0, buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "0123");
  EXPECT_EQ(*(*file)->ReadAt(8, buf, 8), 2u);
  EXPECT_EQ(std::string(buf, 2), "89");
  EXPECT_EQ(*(*file)->ReadAt(10, buf, 8), 0u);
  EXPECT_EQ(*(*file)->ReadAt(1000, buf, 8), 0u);
  EXPECT_EQ(*(*file)->ReadAt(UINT64_MAX - 4, buf, 8), 0u);  // No overflow, just EOF.
  EXPECT_THAT(*(*file)->DataExtents(UINT64_MAX - 4, 8), IsEmpty());
  EXPECT_THAT(*(*file)->DataExtents(8, UINT64_MAX), ::testing::SizeIs(1));
  EXPECT_EQ((*file)->Stat()->size, 10u);
  EXPECT_EQ((*file)->Stat()->path, "f");
}

TEST_P(ConformanceTest, OpenFileOutlivesRemoveAndRename) {
  ASSERT_TRUE(WriteFile(fs(), "f", "abc").ok());
  auto file = fs().OpenForRead("f");
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fs().Rename("f", "g", CommitMode::kReplace).ok());
  ASSERT_TRUE(fs().Remove("g").ok());
  char buf[3];
  EXPECT_EQ(*(*file)->ReadAt(0, buf, 3), 3u);
  EXPECT_EQ(std::string(buf, 3), "abc");
}

TEST_P(ConformanceTest, OpenRefusesWhatIsNotARegularFile) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "f=x", "l->f"}).ok());
  EXPECT_EQ(fs().OpenForRead("d").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenForRead("").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenForRead("l").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().OpenForRead("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().OpenForWrite("d").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenForWrite("l").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().OpenForWrite("nope").status().code(), StatusCode::kNotFound);
}

TEST_P(ConformanceTest, WritableFileWritesTruncatesAndCloses) {
  ASSERT_TRUE(WriteFile(fs(), "f", "0123456789").ok());
  auto file = fs().OpenForWrite("f");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->WriteAt(2, "ab").ok());
  ASSERT_TRUE((*file)->WriteAt(12, "z").ok());  // Past the end: a zero-filled gap.
  EXPECT_EQ(*ReadAll(fs(), "f"), std::string("01ab456789\0\0z", 13));
  ASSERT_TRUE((*file)->Truncate(4).ok());
  ASSERT_TRUE((*file)->Truncate(6).ok());
  EXPECT_EQ(*ReadAll(fs(), "f"), std::string("01ab\0\0", 6));
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_TRUE((*file)->Close().ok());
  EXPECT_EQ((*file)->WriteAt(0, "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*file)->Sync().code(), StatusCode::kFailedPrecondition);
}

TEST_P(ConformanceTest, DataExtentsCoverDataAndSkipHoles) {
  absl::StatusOr<TempFile> t = fs().CreateTemp("sparse");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "head").ok());
  ASSERT_TRUE(t->file->WriteAt(3 * kMiB, "tail").ok());
  ASSERT_TRUE(t->file->Close().ok());
  auto file = fs().OpenForRead(t->path);
  ASSERT_TRUE(file.ok());
  auto extents = (*file)->DataExtents(0, 10 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status();
  ASSERT_FALSE(extents->empty());
  uint64_t covered = 0, previous_end = 0;
  for (const Extent& e : *extents) {
    EXPECT_GE(e.offset, previous_end);  // Sorted, disjoint.
    EXPECT_GT(e.length, 0u);
    previous_end = e.offset + e.length;
    covered += e.length;
  }
  EXPECT_EQ(extents->front().offset, 0u);
  EXPECT_EQ(previous_end, 3 * kMiB + 4);  // Never past the end of the file.
  EXPECT_LT(covered, kMiB);               // The 3 MiB hole is not data.
  EXPECT_THAT(*(*file)->DataExtents(kMiB, kMiB), IsEmpty());
  auto tail = (*file)->DataExtents(3 * kMiB + 1, 2);
  ASSERT_EQ(tail->size(), 1u);
  EXPECT_EQ((*tail)[0].offset, 3 * kMiB + 1);
  EXPECT_EQ((*tail)[0].length, 2u);
}

// Regions are 1 MiB-aligned and 64 KiB long, a multiple of any block size, so the POSIX
// backend reports them as exactly as the fake does.
constexpr uint64_t kBlock = 64 * 1024;

// A file of `size` bytes with data exactly at `regions` (offset, written 'a'+i), the
// rest holes: written with gaps, then truncated larger.
absl::StatusOr<std::string> WriteSparse(FileSystem& fs, absl::string_view target,
                                        const std::vector<uint64_t>& regions, uint64_t size) {
  absl::StatusOr<TempFile> t = fs.CreateTemp(target);
  if (!t.ok()) return t.status();
  for (size_t i = 0; i < regions.size(); ++i) {
    absl::Status s = t->file->WriteAt(regions[i], std::string(kBlock, 'a' + i));
    if (!s.ok()) return s;
  }
  if (absl::Status s = t->file->Truncate(size); !s.ok()) return s;
  if (absl::Status s = t->file->Close(); !s.ok()) return s;
  return t->path;
}

std::vector<std::pair<uint64_t, uint64_t>> Pairs(const std::vector<Extent>& extents) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const Extent& e : extents) out.emplace_back(e.offset, e.length);
  return out;
}

absl::StatusOr<std::vector<std::pair<uint64_t, uint64_t>>> ExtentsOf(
    FileSystem& fs, absl::string_view path, uint64_t offset, uint64_t length) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs.OpenForRead(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::vector<Extent>> extents = (*file)->DataExtents(offset, length);
  if (!extents.ok()) return extents.status();
  return Pairs(*extents);
}

TEST_P(ConformanceTest, DataExtentsWithHolesAtStartMiddleAndEnd) {
  absl::StatusOr<std::string> path = WriteSparse(fs(), "f", {kMiB, 3 * kMiB}, 6 * kMiB);
  ASSERT_TRUE(path.ok()) << path.status();
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), *path, 0, 6 * kMiB),
              ElementsAre(P{kMiB, kBlock}, P{3 * kMiB, kBlock}));
  EXPECT_THAT(*ExtentsOf(fs(), *path, 0, UINT64_MAX),
              ElementsAre(P{kMiB, kBlock}, P{3 * kMiB, kBlock}));
  // A window cuts the extents it overlaps.
  EXPECT_THAT(*ExtentsOf(fs(), *path, kMiB + 100, 2 * kMiB),
              ElementsAre(P{kMiB + 100, kBlock - 100}, P{3 * kMiB, 100}));
  EXPECT_THAT(*ExtentsOf(fs(), *path, 4 * kMiB, 2 * kMiB), IsEmpty());  // The end hole.
  EXPECT_THAT(*ExtentsOf(fs(), *path, 0, kMiB), IsEmpty());             // The start hole.
  EXPECT_EQ(fs().Stat(*path)->size, 6 * kMiB);
  const std::string data = *ReadAll(fs(), *path);
  EXPECT_EQ(data.substr(0, kMiB), std::string(kMiB, '\0'));
  EXPECT_EQ(data.substr(kMiB, kBlock), std::string(kBlock, 'a'));
  EXPECT_EQ(data.substr(3 * kMiB, kBlock), std::string(kBlock, 'b'));
  EXPECT_EQ(data.substr(5 * kMiB), std::string(kMiB, '\0'));
}

TEST_P(ConformanceTest, DataExtentsWithDataAtBothEnds) {
  absl::StatusOr<std::string> path =
      WriteSparse(fs(), "f", {0, 2 * kMiB - kBlock}, 2 * kMiB);
  ASSERT_TRUE(path.ok()) << path.status();
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), *path, 0, 2 * kMiB),
              ElementsAre(P{0, kBlock}, P{2 * kMiB - kBlock, kBlock}));
}

TEST_P(ConformanceTest, DataExtentsOfAFileThatIsAllHole) {
  absl::StatusOr<std::string> path = WriteSparse(fs(), "f", {}, 4 * kMiB);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_THAT(*ExtentsOf(fs(), *path, 0, 4 * kMiB), IsEmpty());
  EXPECT_EQ(*ReadAll(fs(), *path), std::string(4 * kMiB, '\0'));
  // Cutting a file back into its data and growing it again leaves a hole there.
  absl::StatusOr<std::string> cut = WriteSparse(fs(), "g", {0, kMiB}, kMiB / 2);
  ASSERT_TRUE(cut.ok()) << cut.status();
  auto file = fs().OpenForWrite(*cut);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Truncate(2 * kMiB).ok());
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), *cut, 0, 2 * kMiB), ElementsAre(P{0, kBlock}));
}

// --- CopyFrom --------------------------------------------------------------------------

// A new temporary file beside `target`, open for writing.
absl::StatusOr<TempFile> Fresh(FileSystem& fs, absl::string_view target) {
  return fs.CreateTemp(target);
}

TEST_P(ConformanceTest, CopyFromCopiesARangeAndStopsAtTheSourceEnd) {
  ASSERT_TRUE(WriteFile(fs(), "src", "0123456789").ok());
  auto source = fs().OpenForRead("src");
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> dst = Fresh(fs(), "dst");
  ASSERT_TRUE(dst.ok());
  EXPECT_EQ(*dst->file->CopyFrom(**source, 2, 0, 5), 5u);
  EXPECT_EQ(*ReadAll(fs(), dst->path), "23456");
  EXPECT_EQ(*dst->file->CopyFrom(**source, 8, 10, 100), 2u);  // Short: the source ends.
  EXPECT_EQ(*ReadAll(fs(), dst->path), std::string("23456\0\0\0\0\089", 12));
  EXPECT_EQ(*dst->file->CopyFrom(**source, 10, 0, 5), 0u);
  EXPECT_EQ(*dst->file->CopyFrom(**source, UINT64_MAX, 0, UINT64_MAX), 0u);
  EXPECT_EQ(*dst->file->CopyFrom(**source, 0, 0, 0), 0u);
  EXPECT_EQ(dst->file->CopyFrom(**source, 0, UINT64_MAX - 4, 8).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*ReadAll(fs(), dst->path), std::string("23456\0\0\0\0\089", 12));
  ASSERT_TRUE(dst->file->Close().ok());
  EXPECT_EQ(dst->file->CopyFrom(**source, 0, 0, 1).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(ConformanceTest, CopyFromKeepsHoles) {
  absl::StatusOr<std::string> src = WriteSparse(fs(), "src", {kMiB, 3 * kMiB}, 6 * kMiB);
  ASSERT_TRUE(src.ok()) << src.status();
  auto source = fs().OpenForRead(*src);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> whole = Fresh(fs(), "whole");
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole->file->CopyFrom(**source, 0, 0, UINT64_MAX), 6 * kMiB);
  EXPECT_EQ(fs().Stat(whole->path)->size, 6 * kMiB);  // The trailing hole counts.
  EXPECT_EQ(*ExtentsOf(fs(), whole->path, 0, UINT64_MAX), *ExtentsOf(fs(), *src, 0, UINT64_MAX));
  EXPECT_EQ(*ReadAll(fs(), whole->path), *ReadAll(fs(), *src));
  // A range that starts in data and ends in a hole, placed elsewhere.
  absl::StatusOr<TempFile> part = Fresh(fs(), "part");
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part->file->CopyFrom(**source, kMiB, 2 * kMiB, 3 * kMiB), 3 * kMiB);
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), part->path, 0, UINT64_MAX),
              ElementsAre(P{2 * kMiB, kBlock}, P{4 * kMiB, kBlock}));
  EXPECT_EQ(fs().Stat(part->path)->size, 5 * kMiB);
}

TEST_P(ConformanceTest, CopyFromOverDataLeavesZerosAndHolesWhereTheSourceHasHoles) {
  absl::StatusOr<std::string> src = WriteSparse(fs(), "src", {kMiB}, 3 * kMiB);
  ASSERT_TRUE(src.ok()) << src.status();
  auto source = fs().OpenForRead(*src);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> dst = Fresh(fs(), "dst");
  ASSERT_TRUE(dst.ok());
  ASSERT_TRUE(dst->file->WriteAt(0, std::string(4 * kMiB, 'x')).ok());
  EXPECT_EQ(*dst->file->CopyFrom(**source, 0, 0, 3 * kMiB), 3 * kMiB);
  const std::string data = *ReadAll(fs(), dst->path);
  EXPECT_EQ(data.substr(0, 3 * kMiB), *ReadAll(fs(), *src));
  EXPECT_EQ(data.substr(3 * kMiB), std::string(kMiB, 'x'));  // Never shortened.
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), dst->path, 0, UINT64_MAX),
              ElementsAre(P{kMiB, kBlock}, P{3 * kMiB, kMiB}));
}

TEST_P(ConformanceTest, CopyFromWithinOneFile) {
  ASSERT_TRUE(WriteFile(fs(), "f", "abcd").ok());
  auto source = fs().OpenForRead("f");
  auto dest = fs().OpenForWrite("f");
  ASSERT_TRUE(source.ok() && dest.ok());
  EXPECT_EQ(*(*dest)->CopyFrom(**source, 0, 6, 4), 4u);
  EXPECT_EQ(*ReadAll(fs(), "f"), std::string("abcd\0\0abcd", 10));
}

// The source of one backend, the destination of another: copied through a buffer.
TEST_P(ConformanceTest, CopyFromAnotherImplementation) {
  const Backend other = GetParam() == Backend::kPosix ? Backend::kMem : Backend::kPosix;
  std::unique_ptr<FileSystem> elsewhere = testing::NewTestFileSystem(other);
  absl::StatusOr<std::string> src = WriteSparse(*elsewhere, "src", {0, 2 * kMiB}, 4 * kMiB);
  ASSERT_TRUE(src.ok()) << src.status();
  auto source = elsewhere->OpenForRead(*src);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<TempFile> dst = Fresh(fs(), "dst");
  ASSERT_TRUE(dst.ok());
  EXPECT_EQ(*dst->file->CopyFrom(**source, 0, 0, 4 * kMiB), 4 * kMiB);
  // Extents first: POSIX reports the block that extended the file over its trailing
  // hole as data once a read has brought it into the page cache.
  using P = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(*ExtentsOf(fs(), dst->path, 0, UINT64_MAX),
              ElementsAre(P{0, kBlock}, P{2 * kMiB, kBlock}));
  EXPECT_EQ(*ReadAll(fs(), dst->path), *ReadAll(*elsewhere, *src));
}

TEST_P(ConformanceTest, OpenOrCreateForWriteCreatesPrivateFileOrKeepsExisting) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/old=0123456789"}).ok());
  auto created = fs().OpenOrCreateForWrite("d/new");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(fs().Stat("d/new")->type, FileType::kRegular);
  EXPECT_EQ(fs().Stat("d/new")->size, 0u);
  EXPECT_EQ(fs().Stat("d/new")->mode, 0600u);
  ASSERT_TRUE((*created)->WriteAt(3, "xyz").ok());
  ASSERT_TRUE((*created)->Close().ok());
  EXPECT_EQ(*ReadAll(fs(), "d/new"), std::string("\0\0\0xyz", 6));
  // An existing file is neither truncated nor re-moded.
  ASSERT_TRUE(fs().SetModeAndMtime("d/old", 0640, 0).ok());
  auto existing = fs().OpenOrCreateForWrite("d/old");
  ASSERT_TRUE(existing.ok()) << existing.status();
  ASSERT_TRUE((*existing)->WriteAt(2, "ab").ok());
  ASSERT_TRUE((*existing)->Close().ok());
  EXPECT_EQ(*ReadAll(fs(), "d/old"), "01ab456789");
  EXPECT_EQ(fs().Stat("d/old")->mode, 0640u);
}

TEST_P(ConformanceTest, OpenOrCreateForWriteSharesOneFileBetweenWriters) {
  // As the chunks of one large file: each writer opens (the first creates) and writes
  // its own range, in any order, each through its own handle.
  ASSERT_TRUE(fs().MakeDirs("d", 0755).ok());
  constexpr int kWriters = 4;
  constexpr size_t kRange = 1000;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([this, w] {
      auto file = fs().OpenOrCreateForWrite("d/shared");
      ASSERT_TRUE(file.ok()) << file.status();
      EXPECT_TRUE((*file)->WriteAt(w * kRange, std::string(kRange, 'a' + w)).ok());
      EXPECT_TRUE((*file)->Close().ok());
    });
  }
  for (std::thread& t : threads) t.join();
  std::string expected;
  for (int w = 0; w < kWriters; ++w) expected += std::string(kRange, 'a' + w);
  EXPECT_EQ(*ReadAll(fs(), "d/shared"), expected);
  EXPECT_THAT(*WalkAll(fs(), "d"), ElementsAre("d/shared"));
}

TEST_P(ConformanceTest, OpenOrCreateForWriteRefusesWhatIsNotARegularFile) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "f=x", "l->f", "dangling->missing"}).ok());
  EXPECT_EQ(fs().OpenOrCreateForWrite("d").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenOrCreateForWrite("").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenOrCreateForWrite("l").status().code(), StatusCode::kInvalidArgument);
  // A dangling symlink is not followed to create its target.
  EXPECT_EQ(fs().OpenOrCreateForWrite("dangling").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().Stat("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().OpenOrCreateForWrite("l/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().OpenOrCreateForWrite("nope/x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().OpenOrCreateForWrite("f/x").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().OpenOrCreateForWrite("d/../f").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*ReadAll(fs(), "f"), "x");
}

// --- Temporary files and commit --------------------------------------------------------

TEST_P(ConformanceTest, CreateTempIsPrivateHiddenAndBesideTarget) {
  ASSERT_TRUE(fs().MakeDirs("d", 0755).ok());
  absl::StatusOr<TempFile> a = fs().CreateTemp("d/target");
  absl::StatusOr<TempFile> b = fs().CreateTemp("d/target");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(a->path, StartsWith("d/.ferry-tmp.target."));
  EXPECT_NE(a->path, b->path);
  EXPECT_EQ(fs().Stat(a->path)->mode, 0600u);
  EXPECT_EQ(fs().Stat(a->path)->size, 0u);
  EXPECT_EQ(fs().Stat("d/target").status().code(), StatusCode::kNotFound);
  absl::StatusOr<TempFile> longest = fs().CreateTemp("d/" + std::string(255, 'x'));
  ASSERT_TRUE(longest.ok()) << longest.status();
  EXPECT_EQ(Basename(longest->path).size(), kMaxNameBytes);
  EXPECT_EQ(fs().CreateTemp("nope/target").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().CreateTemp("").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, RenameReplaceAndNoReplace) {
  ASSERT_TRUE(BuildTree(fs(), {"a=A", "b=B"}).ok());
  absl::Status s = fs().Rename("a", "b", CommitMode::kNoReplace);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadAll(fs(), "b"), "B");
  ASSERT_TRUE(fs().Rename("a", "b", CommitMode::kReplace).ok());
  EXPECT_EQ(*ReadAll(fs(), "b"), "A");
  EXPECT_EQ(fs().Stat("a").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(fs().Rename("b", "c", CommitMode::kNoReplace).ok());
  EXPECT_THAT(*WalkAll(fs(), ""), ElementsAre("c"));
}

TEST_P(ConformanceTest, RenameTypeRules) {
  ASSERT_TRUE(BuildTree(fs(), {"f=x", "g=y", "d/", "e/", "full/", "full/x=1", "l->f"}).ok());
  const auto code = [&](const char* from, const char* to) {
    return fs().Rename(from, to, CommitMode::kReplace).code();
  };
  EXPECT_EQ(code("f", "d"), StatusCode::kFailedPrecondition);     // File over directory.
  EXPECT_EQ(code("d", "f"), StatusCode::kFailedPrecondition);     // Directory over file.
  EXPECT_EQ(code("d", "full"), StatusCode::kFailedPrecondition);  // Over non-empty.
  EXPECT_EQ(code("d", "d/sub"), StatusCode::kInvalidArgument);    // Into itself.
  EXPECT_EQ(code("nope", "x"), StatusCode::kNotFound);
  EXPECT_EQ(code("f", "nope/x"), StatusCode::kNotFound);
  EXPECT_EQ(code("f", "g/x"), StatusCode::kFailedPrecondition);   // Parent is a file.
  EXPECT_EQ(code("f", "l/x"), StatusCode::kInvalidArgument);      // Parent is a symlink.
  EXPECT_EQ(code("", "x"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("f", ""), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("f", "f"), StatusCode::kOk);  // Same entry: nothing to do.
  EXPECT_EQ(fs().Rename("f", "f", CommitMode::kNoReplace).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(code("d", "e"), StatusCode::kOk);  // Directory over empty directory.
  EXPECT_EQ(code("l", "e/l"), StatusCode::kOk);  // Moves the link, not its target.
  EXPECT_EQ(fs().Stat("e/l")->symlink_target, "f");
  EXPECT_THAT(*WalkAll(fs(), ""), ElementsAre("e", "e/l", "f", "full", "full/x", "g"));
}

TEST_P(ConformanceTest, RenameBetweenDirectoriesMovesSubtrees) {
  ASSERT_TRUE(BuildTree(fs(), {"a/b/", "a/b/f=1", "c/"}).ok());
  ASSERT_TRUE(fs().Rename("a/b", "c/b", CommitMode::kNoReplace).ok());
  EXPECT_THAT(*WalkAll(fs(), ""), ElementsAre("a", "c", "c/b", "c/b/f"));
  EXPECT_EQ(*ReadAll(fs(), "c/b/f"), "1");
}

// --- Directories, removal, symlinks, metadata ------------------------------------------

TEST_P(ConformanceTest, MakeDirs) {
  ASSERT_TRUE(fs().MakeDirs("a/b/c", 0750).ok());
  EXPECT_TRUE(fs().MakeDirs("a/b/c", 0700).ok());  // Exists: fine, mode untouched.
  EXPECT_TRUE(fs().MakeDirs("", 0700).ok());
  EXPECT_EQ(fs().Stat("a/b/c")->mode, 0750u);
  EXPECT_EQ(fs().Stat("a")->mode, 0750u);
  ASSERT_TRUE(BuildTree(fs(), {"a/f=x", "a/l->b"}).ok());
  EXPECT_EQ(fs().MakeDirs("a/f", 0755).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().MakeDirs("a/f/g", 0755).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().MakeDirs("a/l/g", 0755).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().MakeDirs("a/../x", 0755).code(), StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, Remove) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "d/l->f", "e/"}).ok());
  EXPECT_EQ(fs().Remove("d").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs().Remove("d/l").ok());
  EXPECT_TRUE(fs().Stat("d/f").ok());  // Removing a link leaves its target.
  EXPECT_TRUE(fs().Remove("d/f").ok());
  EXPECT_TRUE(fs().Remove("d").ok());
  EXPECT_TRUE(fs().Remove("e").ok());
  EXPECT_EQ(fs().Remove("d").code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().Remove("").code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(*WalkAll(fs(), ""), IsEmpty());
}

TEST_P(ConformanceTest, CreateSymlinkStoresTextUnresolved) {
  int n = 0;
  for (const char* target : {"/etc/passwd", "../../..", "dangling", "a\nb"}) {
    const std::string path = absl::StrCat("l", n++);
    ASSERT_TRUE(fs().CreateSymlink(target, path).ok()) << target;
    EXPECT_EQ(fs().Stat(path)->symlink_target, target);
  }
  EXPECT_EQ(fs().CreateSymlink("x", "l0").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().CreateSymlink("", "m").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().CreateSymlink(std::string("a\0b", 3), "m").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().CreateSymlink("x", "nope/m").code(), StatusCode::kNotFound);
}

// --- Hard links ------------------------------------------------------------------------

TEST_P(ConformanceTest, LinkGivesTheSameInodeASecondName) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=data", "e/"}).ok());
  const FileInfo before = *fs().Stat("d/f");
  EXPECT_EQ(before.nlink, 1u);
  ASSERT_TRUE(fs().Link("d/f", "e/g").ok());
  const FileInfo f = *fs().Stat("d/f"), g = *fs().Stat("e/g");
  EXPECT_EQ(g.type, FileType::kRegular);
  EXPECT_EQ(g.inode, before.inode);
  EXPECT_EQ(g.device, before.device);
  EXPECT_EQ(f.inode, before.inode);
  EXPECT_EQ(f.nlink, 2u);
  EXPECT_EQ(g.nlink, 2u);
  EXPECT_NE(fs().Stat("d")->inode, g.inode);
  EXPECT_EQ(*ReadAll(fs(), "e/g"), "data");
  // What a planner sees: the walk carries device, inode and nlink.
  auto walker = fs().Walk("", "");
  ASSERT_TRUE(walker.ok());
  FileInfo entry;
  std::vector<FileInfo> files;
  while (*(*walker)->Next(&entry)) {
    if (entry.type == FileType::kRegular) files.push_back(entry);
  }
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].inode, files[1].inode);
  EXPECT_EQ(files[0].device, files[1].device);
  EXPECT_EQ(files[0].nlink, 2u);
  // One inode: a write through one name shows through the other.
  auto writer = fs().OpenForWrite("d/f");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->WriteAt(0, "DA").ok());
  EXPECT_EQ(*ReadAll(fs(), "e/g"), "DAta");
  auto reader = fs().OpenForRead("e/g");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->Stat()->nlink, 2u);
  EXPECT_EQ((*reader)->Stat()->inode, before.inode);
  ASSERT_TRUE(fs().Remove("d/f").ok());
  EXPECT_EQ(fs().Stat("e/g")->nlink, 1u);
  EXPECT_EQ(*ReadAll(fs(), "e/g"), "DAta");
  ASSERT_TRUE(fs().Remove("e/g").ok());
  EXPECT_EQ((*reader)->Stat()->nlink, 0u);  // Open, but no name left.
}

TEST_P(ConformanceTest, LinkRefusals) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "g=y", "l->g", "dangling->nope"}).ok());
  const auto code = [&](const char* existing, const char* new_path) {
    return fs().Link(existing, new_path).code();
  };
  EXPECT_EQ(code("d/f", "g"), StatusCode::kAlreadyExists);
  EXPECT_EQ(code("d/f", "d/f"), StatusCode::kAlreadyExists);
  EXPECT_EQ(code("d/f", "d"), StatusCode::kAlreadyExists);
  EXPECT_EQ(code("d/f", "dangling"), StatusCode::kAlreadyExists);  // Not followed.
  EXPECT_EQ(code("d", "x"), StatusCode::kFailedPrecondition);       // A directory.
  EXPECT_EQ(code("l", "x"), StatusCode::kFailedPrecondition);       // A symlink...
  EXPECT_EQ(code("dangling", "x"), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().Stat("x").status().code(), StatusCode::kNotFound);  // ...not followed.
  EXPECT_EQ(code("nope", "x"), StatusCode::kNotFound);
  EXPECT_EQ(code("d/f", "nope/x"), StatusCode::kNotFound);
  EXPECT_EQ(code("g/x", "x"), StatusCode::kFailedPrecondition);  // Parent is a file.
  EXPECT_EQ(code("l/x", "x"), StatusCode::kInvalidArgument);     // Parent is a symlink.
  EXPECT_EQ(code("d/f", "l/x"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("", "x"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("d/f", ""), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("d/../g", "x"), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().Stat("d/f")->nlink, 1u);
  EXPECT_THAT(*WalkAll(fs(), ""), ElementsAre("d", "d/f", "dangling", "g", "l"));
}

// The shared temporary file of a chunked copy must not be a planted second name.
TEST_P(ConformanceTest, OpenOrCreateForWriteRefusesAHardLinkedFile) {
  ASSERT_TRUE(BuildTree(fs(), {"someone=theirs"}).ok());
  ASSERT_TRUE(fs().Link("someone", "shared").ok());
  absl::Status refused = fs().OpenOrCreateForWrite("shared").status();
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("hard-linked"));
  EXPECT_TRUE(fs().OpenForWrite("shared").ok());  // Only the predictable name is refused.
  EXPECT_EQ(*ReadAll(fs(), "someone"), "theirs");
}

// --- Owners ----------------------------------------------------------------------------

constexpr uint32_t kNobody = 65534;

// Runs `check` in a child process that has given up root for nobody:nogroup and
// returns its exit status (0 when every check held), or -1 when this sandbox does not
// let the process change its ids. How the non-root rules are tested when running as
// root; without root `check` runs here.
int RunWithoutRoot(const std::function<int()>& check) {
  if (geteuid() != 0) return check();
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0) {
      _exit(255);
    }
    _exit(check());
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (!WIFEXITED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

// Whether this process may give a file to another user: root, and not root of a user
// namespace that maps no other id (as Bazel's sandbox can be).
bool CanGiveFilesAway() {
  if (geteuid() != 0) return false;
  const std::string probe = testing::MakeTempDir() + "/probe";
  testing::RawWriteFile(probe, "");
  const bool given = chown(probe.c_str(), kNobody, kNobody) == 0;
  unlink(probe.c_str());
  return given;
}

constexpr const char* kNeedsRealRoot =
    "giving files to another user needs root (outside a user namespace mapping only root)";

TEST_P(ConformanceTest, SetOwnerAsRoot) {
  // The fake follows geteuid() alone, so it runs wherever the process is root.
  if (geteuid() != 0 || (GetParam() == Backend::kPosix && !CanGiveFilesAway())) {
    GTEST_SKIP() << kNeedsRealRoot;
  }
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "d/l->f", "d/setid=y"}).ok());
  ASSERT_TRUE(fs().SetOwner("d/f", kNobody, kNobody - 1).ok());
  ASSERT_TRUE(fs().SetOwner("d/l", 1001, 1002).ok());  // The link itself...
  ASSERT_TRUE(fs().SetOwner("d", 1003, 1004).ok());
  ASSERT_TRUE(fs().SetOwner("", 0, 0).ok());
  EXPECT_EQ(fs().Stat("d/f")->uid, kNobody);
  EXPECT_EQ(fs().Stat("d/f")->gid, kNobody - 1);  // ...not its target.
  EXPECT_EQ(fs().Stat("d/l")->uid, 1001u);
  EXPECT_EQ(fs().Stat("d/l")->gid, 1002u);
  EXPECT_EQ(fs().Stat("d")->uid, 1003u);
  EXPECT_EQ(fs().Stat("d")->gid, 1004u);
  EXPECT_EQ(fs().Stat("")->uid, 0u);
  auto file = fs().OpenForRead("d/f");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Stat()->uid, kNobody);
  auto walker = fs().Walk("d", "");
  ASSERT_TRUE(walker.ok());
  FileInfo entry;
  ASSERT_TRUE(*(*walker)->Next(&entry));
  EXPECT_EQ(entry.path, "d/f");
  EXPECT_EQ(entry.gid, kNobody - 1);
  // As chown(2): set-user-ID always goes, set-group-ID only from a group-executable
  // file; a directory keeps both.
  ASSERT_TRUE(fs().SetModeAndMtime("d/setid", 06755, 0).ok());
  ASSERT_TRUE(fs().SetOwner("d/setid", 0, 0).ok());
  EXPECT_EQ(fs().Stat("d/setid")->mode, 0755u);
  ASSERT_TRUE(fs().SetModeAndMtime("d/setid", 06745, 0).ok());
  ASSERT_TRUE(fs().SetOwner("d/setid", 0, 0).ok());
  EXPECT_EQ(fs().Stat("d/setid")->mode, 02745u);
  ASSERT_TRUE(fs().SetModeAndMtime("d", 03755, 0).ok());
  ASSERT_TRUE(fs().SetOwner("d", 0, 0).ok());
  EXPECT_EQ(fs().Stat("d")->mode, 03755u);
  // A file given away is no longer the process's own: its predictable name is refused.
  EXPECT_EQ(fs().OpenOrCreateForWrite("d/f").status().code(), StatusCode::kPermissionDenied);
}

TEST_P(ConformanceTest, SetOwnerErrors) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "d/l->f"}).ok());
  const uint32_t uid = geteuid(), gid = getegid();
  EXPECT_EQ(fs().SetOwner("nope", uid, gid).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().SetOwner("d/l/x", uid, gid).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().SetOwner("d/f/x", uid, gid).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().SetOwner("d/../f", uid, gid).code(), StatusCode::kInvalidArgument);
  absl::Status unchanged = fs().SetOwner("d/f", 0xFFFFFFFF, gid);
  EXPECT_EQ(unchanged.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unchanged.message()), HasSubstr("uid"));
  EXPECT_THAT(std::string(fs().SetOwner("d/f", uid, 0xFFFFFFFF).message()), HasSubstr("gid"));
  EXPECT_TRUE(fs().SetOwner("d/f", uid, gid).ok());  // Anyone may keep what they have.
  EXPECT_EQ(fs().Stat("d/f")->uid, uid);
}

// What a process without root may do: keep the owner and choose one of its groups.
TEST_P(ConformanceTest, SetOwnerWithoutRootIsPermissionDenied) {
  if (geteuid() == 0 && !CanGiveFilesAway()) GTEST_SKIP() << kNeedsRealRoot;
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/theirs=x", "mine=y"}).ok());
  // Searchable by the unprivileged child, and "mine" belongs to the child's user.
  ASSERT_TRUE(fs().SetModeAndMtime("", 0755, 0).ok());
  const uint32_t uid = geteuid() == 0 ? kNobody : geteuid();
  const uint32_t gid = geteuid() == 0 ? kNobody : getegid();
  if (geteuid() == 0) {
    ASSERT_TRUE(fs().SetOwner("mine", kNobody, kNobody).ok());
  }
  const int failed = RunWithoutRoot([&] {
    int bad = 0;
    if (!fs().SetOwner("mine", uid, gid).ok()) bad |= 1;
    if (fs().SetOwner("mine", 0, gid).code() != StatusCode::kPermissionDenied) bad |= 2;
    if (fs().SetOwner("mine", uid, 0).code() != StatusCode::kPermissionDenied) bad |= 4;
    if (fs().SetOwner("d/theirs", uid, gid).code() != StatusCode::kPermissionDenied) bad |= 8;
    if (fs().Stat("mine")->uid != uid) bad |= 16;
    return bad;
  });
  if (failed < 0) GTEST_SKIP() << "this sandbox does not let a root process drop to nobody";
  EXPECT_EQ(failed, 0) << "bit 1: own file refused, 2: giving it away, 4: foreign group, "
                          "8: another user's file, 16: owner changed";
}

TEST_P(ConformanceTest, SetModeAndMtime) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "d/l->f"}).ok());
  const int64_t t = int64_t{1600000000} * 1000000000 + 987654321;
  ASSERT_TRUE(fs().SetModeAndMtime("d/f", 0604, t).ok());
  ASSERT_TRUE(fs().SetModeAndMtime("d", 0711, t + 1).ok());
  ASSERT_TRUE(fs().SetModeAndMtime("d/l", 0700, t + 2).ok());
  ASSERT_TRUE(fs().SetModeAndMtime("", 0755, t + 3).ok());
  EXPECT_EQ(fs().Stat("d/f")->mode, 0604u);
  EXPECT_EQ(fs().Stat("d/f")->mtime_ns, t);
  EXPECT_EQ(fs().Stat("d")->mode, 0711u);
  EXPECT_EQ(fs().Stat("d")->mtime_ns, t + 1);
  EXPECT_EQ(fs().Stat("d/l")->mtime_ns, t + 2);  // The link itself...
  EXPECT_EQ(fs().Stat("d/f")->mtime_ns, t);      // ...not its target.
  EXPECT_EQ(fs().Stat("")->mtime_ns, t + 3);
  EXPECT_EQ(fs().SetModeAndMtime("nope", 0644, t).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().SetModeAndMtime("d/l/x", 0644, t).code(), StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, SyncDirAndFreeSpace) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "f=x", "l->d"}).ok());
  EXPECT_TRUE(fs().SyncDir("").ok());
  EXPECT_TRUE(fs().SyncDir("d").ok());
  EXPECT_EQ(fs().SyncDir("nope").code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().SyncDir("f").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(fs().SyncDir("l").code(), StatusCode::kInvalidArgument);
  absl::StatusOr<SpaceInfo> space = fs().FreeSpace();
  ASSERT_TRUE(space.ok());
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->available_bytes, space->total_bytes);
}

TEST_P(ConformanceTest, SyncFileSystemLeavesTheTreeAsItIs) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=x", "d/l->f"}).ok());
  absl::StatusOr<TempFile> t = fs().CreateTemp("d/g");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "unsynced").ok());
  EXPECT_TRUE(fs().SyncFileSystem().ok());
  ASSERT_TRUE(t->file->Close().ok());
  ASSERT_TRUE(fs().Rename(t->path, "d/g", CommitMode::kNoReplace).ok());
  EXPECT_TRUE(fs().SyncFileSystem().ok());
  EXPECT_THAT(*WalkAll(fs(), ""), ElementsAre("d", "d/f", "d/g", "d/l"));
  EXPECT_EQ(*ReadAll(fs(), "d/g"), "unsynced");
}

TEST_P(ConformanceTest, StartWritebackIsAHintThatChangesNothing) {
  ASSERT_TRUE(BuildTree(fs(), {"d/"}).ok());
  absl::StatusOr<TempFile> t = fs().CreateTemp("d/g");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->file->WriteAt(0, "first").ok());
  ASSERT_TRUE(t->file->WriteAt(1 << 20, "second").ok());
  EXPECT_TRUE(t->file->StartWriteback(0, 5).ok());
  EXPECT_TRUE(t->file->StartWriteback(1 << 20, 0).ok());  // Through the end.
  EXPECT_TRUE(t->file->StartWriteback(5 << 20, 4096).ok());  // Past the end.
  ASSERT_TRUE(t->file->Sync().ok());
  ASSERT_TRUE(t->file->Close().ok());
  absl::StatusOr<std::string> content = ReadAll(fs(), t->path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content->size(), (1u << 20) + 6);
  EXPECT_EQ(content->substr(0, 5), "first");
  EXPECT_EQ(content->substr(1 << 20), "second");
}

// --- Walk ------------------------------------------------------------------------------

const std::vector<std::string> kTree = {
    "b/", "b/c/", "b/c/x=1", "b/a=2", "a/", "a/z=3", "b-=4", "b0=5", "s->b",
    "\xff=6", "B=7", "e/"};
const std::vector<std::string> kTreeOrder = {
    "B", "a", "a/z", "b", "b/a", "b/c", "b/c/x", "b-", "b0", "e", "s", "\xff"};

TEST_P(ConformanceTest, WalkIsSortedDepthFirstPreOrder) {
  ASSERT_TRUE(BuildTree(fs(), kTree).ok());
  EXPECT_EQ(*WalkAll(fs(), ""), kTreeOrder);
  EXPECT_THAT(*WalkAll(fs(), "b"), ElementsAre("b/a", "b/c", "b/c/x"));
  EXPECT_THAT(*WalkAll(fs(), "e"), IsEmpty());
  EXPECT_THAT(*WalkAll(fs(), "b/c/x"), ElementsAre("b/c/x"));
  EXPECT_THAT(*WalkAll(fs(), "s"), ElementsAre("s"));  // A symlink is not entered.
  EXPECT_EQ(fs().Walk("nope", "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs().Walk("s/a", "").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, WalkEntriesCarryStat) {
  ASSERT_TRUE(BuildTree(fs(), {"d/", "d/f=abc", "d/l->f"}).ok());
  auto walker = fs().Walk("", "");
  ASSERT_TRUE(walker.ok());
  FileInfo info;
  std::vector<FileInfo> entries;
  while (*(*walker)->Next(&info)) entries.push_back(info);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].type, FileType::kDirectory);
  EXPECT_EQ(entries[1].size, 3u);
  EXPECT_EQ(entries[1].inode, fs().Stat("d/f")->inode);
  EXPECT_EQ(entries[2].symlink_target, "f");
  EXPECT_FALSE(*(*walker)->Next(&info));  // Stays at the end.
}

TEST_P(ConformanceTest, WalkResumesFromEveryCursor) {
  ASSERT_TRUE(BuildTree(fs(), kTree).ok());
  std::vector<std::string> cursors;
  ASSERT_EQ(*WalkAll(fs(), "", "", &cursors), kTreeOrder);
  for (size_t i = 0; i < cursors.size(); ++i) {
    EXPECT_EQ(*WalkAll(fs(), "", cursors[i]),
              std::vector<std::string>(kTreeOrder.begin() + i + 1, kTreeOrder.end()))
        << "after " << kTreeOrder[i];
  }
  std::vector<std::string> file_cursors;
  ASSERT_THAT(*WalkAll(fs(), "b0", "", &file_cursors), ElementsAre("b0"));
  EXPECT_THAT(*WalkAll(fs(), "b0", file_cursors[0]), IsEmpty());
}

TEST_P(ConformanceTest, WalkCursorSurvivesChangesToTheTree) {
  ASSERT_TRUE(BuildTree(fs(), kTree).ok());
  std::vector<std::string> cursors;
  ASSERT_TRUE(WalkAll(fs(), "", "", &cursors).ok());
  const std::string after_b_c = cursors[5];  // Last returned: "b/c" (a directory).
  ASSERT_TRUE(fs().Remove("b/c/x").ok());
  ASSERT_TRUE(fs().Remove("b/c").ok());        // The cursor's entry is gone...
  ASSERT_TRUE(BuildTree(fs(), {"b/d=8", "a/y=9"}).ok());  // ...and things appeared.
  EXPECT_THAT(*WalkAll(fs(), "", after_b_c),
              ElementsAre("b/d", "b-", "b0", "e", "s", "\xff"));
}

TEST_P(ConformanceTest, WalkCursorErrors) {
  EXPECT_EQ(fs().Walk("", "bogus").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().Walk("", "w1:a//b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(fs().Walk("", "w1:/etc").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ConformanceTest, WalkSkipsEntriesRemovedMidWalk) {
  ASSERT_TRUE(BuildTree(fs(), {"a=1", "b/", "b/x=2", "c=3"}).ok());
  auto walker = fs().Walk("", "");
  ASSERT_TRUE(walker.ok());
  FileInfo info;
  ASSERT_TRUE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "a");
  ASSERT_TRUE(fs().Remove("c").ok());
  ASSERT_TRUE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "b");
  ASSERT_TRUE(fs().Remove("b/x").ok());
  ASSERT_TRUE(fs().Remove("b").ok());  // Returned, then gone before it was entered.
  EXPECT_FALSE(*(*walker)->Next(&info));
}

// --- Concurrency -----------------------------------------------------------------------

TEST_P(ConformanceTest, ConcurrentCommitsInOneDirectory) {
  constexpr int kThreads = 4, kFilesEach = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kFilesEach; ++i) {
        const std::string name = absl::StrCat("f", t, "_", i);
        EXPECT_TRUE(WriteFile(fs(), name, name).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::StatusOr<std::vector<std::string>> all = WalkAll(fs(), "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), size_t{kThreads * kFilesEach});
  for (const std::string& name : *all) EXPECT_EQ(*ReadAll(fs(), name), name);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConformanceTest,
                         ::testing::Values(Backend::kPosix, Backend::kMem),
                         [](const auto& info) { return testing::BackendName(info.param); });

// --- Both at once ----------------------------------------------------------------------

// The same operations on both backends give the same status, message included, so a
// caller's error handling tested against the fake holds in production.
TEST(CrossBackendTest, IdenticalStatusesAndCursors) {
  auto posix = testing::NewTestFileSystem(Backend::kPosix);
  auto mem = testing::NewTestFileSystem(Backend::kMem);
  const auto script = [](FileSystem& fs) {
    std::vector<std::string> out;
    const auto note = [&out](const absl::Status& s) { out.push_back(s.ToString()); };
    note(BuildTree(fs, kTree));
    note(fs.Stat("nope").status());
    note(fs.Stat("b0/x").status());
    note(fs.Stat("s/a").status());
    note(fs.OpenForRead("b").status());
    note(fs.OpenForRead("s").status());
    note(fs.Rename("b0", "b-", CommitMode::kNoReplace));
    note(fs.Rename("b", "b/c/d", CommitMode::kReplace));
    note(fs.Remove("b"));
    note(fs.MakeDirs("b0/x", 0755));
    note(fs.MakeDirs("s/x", 0755));
    note(fs.CreateSymlink("t", "a"));
    note(fs.SetModeAndMtime("nope", 0644, 0));
    note(fs.Walk("", "w1:../x").status());
    note(fs.CreateTemp("nope/x").status());
    note(fs.Link("b0", "b-"));
    note(fs.Link("b", "x"));
    note(fs.Link("s", "x"));
    note(fs.Link("nope", "x"));
    note(fs.Link("b0", "nope/x"));
    note(fs.Link("b0", "s/x"));
    note(fs.SetOwner("nope", geteuid(), getegid()));
    note(fs.SetOwner("s/x", geteuid(), getegid()));
    note(fs.SetOwner("b0/x", geteuid(), getegid()));
    note(fs.SetOwner("b0", 0xFFFFFFFF, getegid()));
    std::vector<std::string> cursors;
    note(WalkAll(fs, "", "", &cursors).status());
    out.insert(out.end(), cursors.begin(), cursors.end());
    return out;
  };
  EXPECT_EQ(script(*posix), script(*mem));
}

}  // namespace
}  // namespace ferry::storage
