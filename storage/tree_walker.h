// TreeWalker: the DirectoryWalker algorithm shared by every FileSystem backend.
//
// Purpose: the walk order and the cursor are part of the contract (the controller
// checkpoints cursors and may resume them on another worker, against another backend in
// tests), so the algorithm lives once, here; a backend supplies only WalkDirectory, the
// primitives on one open directory.
//
// Order: depth-first, pre-order, children sorted byte-wise (std::string's order, i.e.
// memcmp on unsigned bytes). Memory: one WalkDirectory and one sorted name list for
// each directory on the current path (the walk never holds more than that, whatever the
// size of the tree; each level also keeps up to 64 KiB of name buffers for reuse by the
// next directory at that depth). Cursor: EncodeWalkCursor(path of the last returned
// entry relative to the start); resuming re-lists each directory on that path and
// continues after the named entry, so entries added or removed in the meantime are
// handled naturally: what sorts after the cursor and exists is returned, and a cursor
// naming a vanished entry is still valid. Changes during a walk: an entry that vanishes
// between listing and lstat is skipped; a directory that vanishes or stops being a
// directory between being returned and being entered is skipped with its contents.
//
// Failure: a non-OK status from Next leaves the walker unusable except for Cursor(),
// which still names the last entry returned, so the caller can resume after fixing the
// cause. Thread safety: one thread at a time (as DirectoryWalker).
#ifndef FERRY_STORAGE_TREE_WALKER_H_
#define FERRY_STORAGE_TREE_WALKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/file_system.h"

namespace ferry::storage {

// The names of one directory, for TreeWalker and the backends that fill it: every name
// is stored once, back to back in one buffer and NUL-terminated (so a backend can hand
// it straight to a *at() syscall), and sorting moves 16-byte index entries, not names.
// Names hold no NUL and are at most 16 MiB long (NAME_MAX is 255).
class NameList {
 public:
  // Empties the list, keeping its buffers for reuse.
  void Clear() {
    bytes_.clear();
    entries_.clear();
  }
  void Add(absl::string_view name);
  size_t size() const { return entries_.size(); }
  // The i-th name; its data() is NUL-terminated.
  absl::string_view operator[](size_t i) const {
    return absl::string_view(bytes_.data() + entries_[i].offset, entries_[i].size);
  }
  // Sorts byte-wise: std::string's order, i.e. memcmp on unsigned bytes.
  void Sort();
  // After Sort: the index of the first name that sorts after `name` (upper bound).
  size_t UpperBound(absl::string_view name) const;
  // Bytes allocated, whether in use or kept for reuse.
  size_t CapacityBytes() const {
    return bytes_.capacity() + entries_.capacity() * sizeof(Entry);
  }

 private:
  struct Entry {
    uint64_t key;          // The first 8 bytes, big-endian, zero-padded: most
                           // comparisons are decided here, without touching bytes_.
    uint64_t offset : 40;  // Of the name in bytes_.
    uint64_t size : 24;
  };

  std::string bytes_;  // "name\0name\0..."
  std::vector<Entry> entries_;
};

// One open directory, as a backend sees it. `path` arguments are the child's path
// relative to the FileSystem root, for FileInfo::path and error messages.
//
// TreeWalker calls only ListInto, DescribeInto and OpenChild. The defaults of the first
// two adapt List and Describe, so a backend where speed does not matter (the in-memory
// fake) implements only those; the POSIX backend overrides them to skip a string per
// name and a FileInfo per entry.
class WalkDirectory {
 public:
  virtual ~WalkDirectory() = default;
  // The names in this directory except "." and "..", in any order.
  virtual absl::StatusOr<std::vector<std::string>> List() = 0;
  // lstat of child `name` (symlink text included); NOT_FOUND if it vanished.
  virtual absl::StatusOr<FileInfo> Describe(const std::string& name,
                                            const std::string& path) = 0;
  // Opens child directory `name`; nullptr (and OK) if it vanished or is no longer a
  // directory, which includes having been replaced by a symlink.
  virtual absl::StatusOr<std::unique_ptr<WalkDirectory>> OpenChild(
      const std::string& name, const std::string& path) = 0;

  // As List, appending to `names` (which the caller has cleared).
  virtual absl::Status ListInto(NameList* names);
  // As Describe, into `*info`: every field is set (symlink_target cleared for anything
  // but a symlink), and its strings reuse their capacity. On error `*info` is unchanged.
  // `name.data()` is NUL-terminated.
  virtual absl::Status DescribeInto(absl::string_view name, absl::string_view path,
                                    FileInfo* info);
};

// Builds the walker for a FileSystem::Walk call, after the backend has validated
// `start` and found what it is (`start_info`). For a directory, `open_start` is the
// opened start directory; for anything else it is ignored and the walk yields
// `start_info` alone. `cursor` as in FileSystem::Walk.
absl::StatusOr<std::unique_ptr<DirectoryWalker>> NewTreeWalker(
    FileInfo start_info, std::unique_ptr<WalkDirectory> open_start,
    absl::string_view cursor);

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_TREE_WALKER_H_
