// ExtentCursor: walks a byte range of an open file as alternating data and hole pieces,
// from storage's DataExtents (SEEK_DATA/SEEK_HOLE), so that readers of sparse files
// never read their holes.
//
// Extents are asked of the file for at most kExtentWindow bytes of the range at once:
// a huge, fragmented sparse file never needs its whole extent list in memory. A file
// system without hole support reports one data extent, so the cursor then yields the
// range as data. Pieces are exact: together they cover [offset, end) once, in order.
//
// Failure: Next returns the file's DataExtents error. Thread safety: none (one reader).
#ifndef FERRY_COPYD_EXTENT_CURSOR_H_
#define FERRY_COPYD_EXTENT_CURSOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/file_system.h"

namespace ferry::copyd {

inline constexpr uint64_t kExtentWindow = uint64_t{1} << 30;

class ExtentCursor {
 public:
  struct Piece {
    uint64_t offset = 0;
    uint64_t length = 0;  // > 0.
    bool hole = false;
  };

  // `file` must outlive the cursor; `window` (> 0) is for tests.
  ExtentCursor(storage::ReadableFile* file, uint64_t offset, uint64_t end,
               uint64_t window = kExtentWindow)
      : file_(file), position_(offset), end_(end), window_(window) {}

  // The next piece starting at position(), of at most `max_data` bytes when it is data
  // (holes come whole, up to the window's end); false at the end of the range.
  absl::StatusOr<bool> Next(uint64_t max_data, Piece* piece);

  uint64_t position() const { return position_; }

 private:
  storage::ReadableFile* const file_;
  uint64_t position_;
  const uint64_t end_;
  const uint64_t window_;
  std::vector<storage::Extent> extents_;  // Within [.., window_end_).
  size_t next_extent_ = 0;
  uint64_t window_end_ = 0;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_EXTENT_CURSOR_H_
