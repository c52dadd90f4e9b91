// The shared copy loop behind WritableFile::CopyFrom (see file_system.h).
#include "storage/file_system.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace ferry::storage {
namespace {

// Writes into new page-cache pages are much slower in pieces of 1 MiB or more than of
// 256 KiB on the machines measured (/work/shared/notes/data-path.md).
constexpr uint64_t kCopyBufferBytes = 256 * 1024;
// How much of the source one DataExtents call covers: bounds the extent list.
constexpr uint64_t kExtentWindowBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxFileOffset = std::numeric_limits<int64_t>::max();

const char kZeros[kCopyBufferBytes] = {};

}  // namespace

absl::StatusOr<uint64_t> WritableFile::CopyFrom(ReadableFile& source, uint64_t source_offset,
                                                uint64_t offset, uint64_t length) {
  return CopyExtents(source, source_offset, offset, length);
}

absl::StatusOr<uint64_t> WritableFile::CopyExtents(ReadableFile& source,
                                                   uint64_t source_offset, uint64_t offset,
                                                   uint64_t length) {
  absl::StatusOr<FileInfo> info = source.Stat();
  if (!info.ok()) return info.status();
  if (source_offset >= info->size) return 0;
  const uint64_t total = std::min(length, info->size - source_offset);
  if (offset > kMaxFileOffset || total > kMaxFileOffset - offset) {
    return absl::InvalidArgumentError(
        "copy: offset + length passes the largest file offset");
  }
  // Everything before `pos` in the source is copied (or cleared) already.
  uint64_t pos = source_offset;
  uint64_t data_end = source_offset;  // Of the last data extent copied.
  const uint64_t end = source_offset + total;
  const auto clear_to = [&](uint64_t stop) -> absl::Status {
    if (stop <= pos) return absl::OkStatus();
    absl::Status s = ClearRange(offset + (pos - source_offset), stop - pos);
    pos = stop;
    return s;
  };
  while (pos < end) {
    const uint64_t window_end = pos + std::min(end - pos, kExtentWindowBytes);
    absl::StatusOr<std::vector<Extent>> extents = source.DataExtents(pos, window_end - pos);
    if (!extents.ok()) return extents.status();
    for (const Extent& e : *extents) {
      if (absl::Status s = clear_to(e.offset); !s.ok()) return s;
      absl::StatusOr<uint64_t> copied =
          CopyData(source, e.offset, offset + (e.offset - source_offset), e.length);
      if (!copied.ok()) return copied.status();
      pos = data_end = e.offset + *copied;
      if (*copied < e.length) return pos - source_offset;  // The source ended.
    }
    if (absl::Status s = clear_to(window_end); !s.ok()) return s;
  }
  // Only a hole at the end needs growing: a data extent's write grows the file by
  // itself, where an ExtendTo before it could leave the file system a stray block.
  if (data_end < end) {
    if (absl::Status s = ExtendTo(offset + total); !s.ok()) return s;
  }
  return total;
}

absl::StatusOr<uint64_t> WritableFile::CopyData(ReadableFile& source, uint64_t source_offset,
                                                uint64_t offset, uint64_t length) {
  const size_t buffer_bytes = static_cast<size_t>(std::min(length, kCopyBufferBytes));
  std::unique_ptr<char[]> buffer(new char[buffer_bytes]);
  uint64_t done = 0;
  while (done < length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length - done, buffer_bytes));
    absl::StatusOr<size_t> got = source.ReadAt(source_offset + done, buffer.get(), want);
    if (!got.ok()) return got.status();
    if (absl::Status s = WriteAt(offset + done, absl::string_view(buffer.get(), *got));
        !s.ok()) {
      return s;
    }
    done += *got;
    if (*got < want) break;  // The source ended.
  }
  return done;
}

absl::Status WritableFile::StartWriteback(uint64_t /*offset*/, uint64_t /*length*/) {
  return absl::OkStatus();
}

absl::Status WritableFile::ExtendTo(uint64_t size) {
  return WriteAt(size - 1, absl::string_view(kZeros, 1));
}

absl::Status WritableFile::ClearRange(uint64_t offset, uint64_t length) {
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min(length - done, kCopyBufferBytes);
    if (absl::Status s = WriteAt(offset + done, absl::string_view(kZeros, n)); !s.ok()) {
      return s;
    }
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace ferry::storage
