#include "copyd/extent_cursor.h"

#include <algorithm>
#include <utility>

namespace ferry::copyd {

absl::StatusOr<bool> ExtentCursor::Next(uint64_t max_data, Piece* piece) {
  if (position_ >= end_) return false;
  if (position_ >= window_end_) {
    window_end_ = std::min(end_, position_ + std::min(window_, end_ - position_));
    absl::StatusOr<std::vector<storage::Extent>> extents =
        file_->DataExtents(position_, window_end_ - position_);
    if (!extents.ok()) return extents.status();
    extents_ = std::move(*extents);
    next_extent_ = 0;
  }
  while (next_extent_ < extents_.size() &&
         extents_[next_extent_].offset + extents_[next_extent_].length <= position_) {
    ++next_extent_;
  }
  piece->offset = position_;
  if (next_extent_ == extents_.size() || extents_[next_extent_].offset > position_) {
    const uint64_t hole_end = next_extent_ == extents_.size()
                                  ? window_end_
                                  : std::min(window_end_, extents_[next_extent_].offset);
    piece->hole = true;
    piece->length = hole_end - position_;
  } else {
    const storage::Extent& extent = extents_[next_extent_];
    const uint64_t data_end = std::min(window_end_, extent.offset + extent.length);
    piece->hole = false;
    piece->length = std::min(std::max<uint64_t>(max_data, 1), data_end - position_);
  }
  position_ += piece->length;
  return true;
}

}  // namespace ferry::copyd
