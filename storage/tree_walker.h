// TreeWalker: the DirectoryWalker algorithm shared by every FileSystem backend.
//
// Purpose: the walk order and the cursor are part of the contract (the controller
// checkpoints cursors and may resume them on another worker, against another backend in
// tests), so the algorithm lives once, here; a backend supplies only WalkDirectory, the
// three primitives on one open directory.
//
// Order: depth-first, pre-order, children sorted byte-wise (std::string's order, i.e.
// memcmp on unsigned bytes). Memory: one WalkDirectory and one sorted name list for
// each directory on the current path (the walk never holds more than that, whatever the
// size of the tree). Cursor: EncodeWalkCursor(path of the last returned entry relative
// to the start); resuming re-lists each directory on that path and continues after the
// named entry, so entries added or removed in the meantime are handled naturally: what
// sorts after the cursor and exists is returned, and a cursor naming a vanished entry is
// still valid. Changes during a walk: an entry that vanishes between listing and lstat
// is skipped; a directory that vanishes or stops being a directory between being
// returned and being entered is skipped with its contents.
//
// Failure: a non-OK status from Next leaves the walker unusable except for Cursor(),
// which still names the last entry returned, so the caller can resume after fixing the
// cause. Thread safety: one thread at a time (as DirectoryWalker).
#ifndef FERRY_STORAGE_TREE_WALKER_H_
#define FERRY_STORAGE_TREE_WALKER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/file_system.h"

namespace ferry::storage {

// One open directory, as a backend sees it. `path` arguments are the child's path
// relative to the FileSystem root, for FileInfo::path and error messages.
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
