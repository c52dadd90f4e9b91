// Helpers for storage tests (testonly).
//
// MakeTempDir gives every test its own directory under $TEST_TMPDIR, so tests run in
// parallel without sharing state. The Raw* helpers touch the real disk directly,
// bypassing FileSystem, to set up trees and to observe what an operation did; the
// others go through the interface. Failures are reported with gtest's ADD_FAILURE and
// a neutral return value. Thread safety: like the underlying calls.
#ifndef FERRY_STORAGE_TEST_UTIL_H_
#define FERRY_STORAGE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/file_system.h"

namespace ferry::storage::testing {

// The backends every backend-agnostic test runs against.
enum class Backend { kPosix, kMem };
std::string BackendName(Backend backend);  // For gtest parameter names.

// A fresh, empty FileSystem. For kPosix, rooted at a new MakeTempDir() whose absolute
// path is stored in *root_dir when given; for kMem, a MemFileSystem ("" in *root_dir).
std::unique_ptr<FileSystem> NewTestFileSystem(Backend backend,
                                              std::string* root_dir = nullptr);

// A new, empty directory (mkdtemp) under $TEST_TMPDIR, or /tmp outside Bazel.
std::string MakeTempDir();

void RawWriteFile(const std::string& abs_path, absl::string_view data);
std::string RawReadFile(const std::string& abs_path);
bool RawExists(const std::string& abs_path);
// Every path under `abs_dir` (recursive, sorted, not following symlinks), with mode,
// size, mtime, link count, owner and file contents: a fingerprint to compare before
// and after an operation.
std::string RawTreeFingerprint(const std::string& abs_dir);

// Reads the whole of `path` through `fs`.
absl::StatusOr<std::string> ReadAll(FileSystem& fs, absl::string_view path);
// CreateTemp + WriteAt + Sync + Close + Rename(mode) + SyncDir, as copyd commits a file.
absl::Status WriteFile(FileSystem& fs, absl::string_view path, absl::string_view data,
                       CommitMode mode = CommitMode::kReplace);
// Creates entries through `fs`, in order, from specs: "dir/" makes a directory,
// "path=bytes" a file (committed with WriteFile), "path->text" a symlink.
absl::Status BuildTree(FileSystem& fs, const std::vector<std::string>& specs);
// Paths of every entry of a full walk of `path`, in walk order.
// With `cursor`, the entries after it; `cursors`, if given, gets Cursor() after each.
absl::StatusOr<std::vector<std::string>> WalkAll(FileSystem& fs, absl::string_view path,
                                                 absl::string_view cursor = "",
                                                 std::vector<std::string>* cursors = nullptr);

}  // namespace ferry::storage::testing

#endif  // FERRY_STORAGE_TEST_UTIL_H_
