#include "copyd/extent_cursor.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/mem_file_system.h"

namespace ferry::copyd {
namespace {

constexpr uint64_t kMiB = 1 << 20;

struct Seen {
  uint64_t offset;
  uint64_t length;
  bool hole;
  bool operator==(const Seen& o) const {
    return offset == o.offset && length == o.length && hole == o.hole;
  }
};

class ExtentCursorTest : public ::testing::Test {
 protected:
  // A file of `size` bytes with data only at `data` (offset, length) pairs.
  std::unique_ptr<storage::ReadableFile> MakeFile(uint64_t size,
                                                  const std::vector<Seen>& data) {
    absl::StatusOr<storage::TempFile> temp = fs_.CreateTemp("f");
    EXPECT_TRUE(temp.ok()) << temp.status();
    for (const Seen& d : data) {
      EXPECT_TRUE(temp->file->WriteAt(d.offset, std::string(d.length, 'x')).ok());
    }
    EXPECT_TRUE(temp->file->Truncate(size).ok());
    EXPECT_TRUE(temp->file->Close().ok());
    absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file = fs_.OpenForRead(temp->path);
    EXPECT_TRUE(file.ok()) << file.status();
    return std::move(*file);
  }

  static std::vector<Seen> Walk(storage::ReadableFile* file, uint64_t offset, uint64_t end,
                                uint64_t max_data, uint64_t window = kExtentWindow) {
    ExtentCursor cursor(file, offset, end, window);
    std::vector<Seen> seen;
    ExtentCursor::Piece piece;
    for (;;) {
      absl::StatusOr<bool> more = cursor.Next(max_data, &piece);
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok() || !*more) break;
      seen.push_back({piece.offset, piece.length, piece.hole});
    }
    EXPECT_EQ(cursor.position(), std::max(offset, end));
    return seen;
  }

  storage::MemFileSystem fs_;
};

TEST_F(ExtentCursorTest, DenseFileIsDataInPiecesOfAtMostMaxData) {
  auto file = MakeFile(10, {{0, 10, false}});
  EXPECT_EQ(Walk(file.get(), 0, 10, 4),
            (std::vector<Seen>{{0, 4, false}, {4, 4, false}, {8, 2, false}}));
}

TEST_F(ExtentCursorTest, HolesAtStartMiddleAndEndComeWhole) {
  auto file = MakeFile(10 * kMiB, {{2 * kMiB, kMiB, false}, {5 * kMiB, kMiB, false}});
  EXPECT_EQ(Walk(file.get(), 0, 10 * kMiB, kMiB),
            (std::vector<Seen>{{0, 2 * kMiB, true},
                               {2 * kMiB, kMiB, false},
                               {3 * kMiB, 2 * kMiB, true},
                               {5 * kMiB, kMiB, false},
                               {6 * kMiB, 4 * kMiB, true}}));
}

TEST_F(ExtentCursorTest, RangeStartingInsideDataAndEndingInsideAHole) {
  auto file = MakeFile(10 * kMiB, {{2 * kMiB, kMiB, false}});
  EXPECT_EQ(Walk(file.get(), 2 * kMiB + 100, 4 * kMiB, 8 * kMiB),
            (std::vector<Seen>{{2 * kMiB + 100, kMiB - 100, false},
                               {3 * kMiB, kMiB, true}}));
}

TEST_F(ExtentCursorTest, AllHoleAndEmptyRanges) {
  auto file = MakeFile(3 * kMiB, {});
  EXPECT_EQ(Walk(file.get(), 0, 3 * kMiB, kMiB), (std::vector<Seen>{{0, 3 * kMiB, true}}));
  EXPECT_TRUE(Walk(file.get(), kMiB, kMiB, kMiB).empty());
}

TEST_F(ExtentCursorTest, PiecesCoverAHugeSparseRangeExactlyOnceAcrossWindows) {
  // Data across several extent windows: the cursor refills its window as it goes.
  constexpr uint64_t kWindow = 4 * kMiB;
  const uint64_t size = 3 * kWindow + 5 * kMiB;
  auto file = MakeFile(size, {{kWindow - kMiB, 2 * kMiB, false},
                              {3 * kWindow + kMiB, kMiB, false}});
  uint64_t covered = 0, data = 0, next = 0;
  for (const Seen& s : Walk(file.get(), 0, size, kMiB, kWindow)) {
    EXPECT_EQ(s.offset, next);
    next += s.length;
    covered += s.length;
    if (!s.hole) data += s.length;
  }
  EXPECT_EQ(covered, size);
  EXPECT_EQ(data, 3 * kMiB);
}

}  // namespace
}  // namespace ferry::copyd
