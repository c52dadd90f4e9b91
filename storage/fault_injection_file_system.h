// FaultInjectionFileSystem: wraps any FileSystem to inject errors, count operations and
// simulate a crash (testonly).
//
// Faults: AddFault(rule) makes matching calls fail with EIO (UNAVAILABLE) or ENOSPC
// (RESOURCE_EXHAUSTED), or, for writes, a short write: the first half of the data is
// written through to the base and then the call fails with ENOSPC, as when a disk fills
// in the middle of a write. A rule matches an operation and a raw path prefix ("" for
// every path; "d/.ferry-tmp." for temporary files in d); for file and walker methods
// the path is the one the object was opened with, for Rename either side. `skip` lets
// that many matching calls through first, `times` limits how many fail (-1: all). The
// failed call does nothing else (except the short write's first half), so a test sees
// exactly what the caller left behind. WritableFile::CopyFrom matches kCopyFrom and
// kWrite rules of its destination (a short write copies the first half of the range),
// and, when its source was opened through a wrapper, kRead rules of the source; it then
// hands the unwrapped source to the base, so a POSIX base still copies in the kernel.
//
// Counting: every call through the wrapper (including failed ones) is counted per
// operation, so tests can assert that something was or was not attempted.
//
// Crash: SimulateCrash() drops what was not made durable, then invalidates every file
// and walker opened through the wrapper before (they then fail FAILED_PRECONDITION, as a
// dead process's descriptors would be gone).
//  - Over a MemFileSystem it is exact: MemFileSystem::DropUnsyncedData (see its header).
//  - Over any other backend (POSIX) the wrapper can only undo what it saw and what the
//    interface lets it undo, best effort, ignoring errors:
//      can:    truncate a file written since its last Sync back to the size it had then
//              (0 for a file created by CreateTemp or OpenOrCreateForWrite and never
//              synced); remove entries created since their directory's last SyncDir
//              (CreateTemp, OpenOrCreateForWrite, rename targets, CreateSymlink, Link,
//              directories made by MakeDirs), deepest first. After a successful
//              SyncFileSystem it undoes nothing done before it.
//      cannot: restore bytes overwritten in place below the synced size; bring back a
//              file replaced by an unsynced rename or deleted by an unsynced Remove;
//              undo SetModeAndMtime or SetOwner; drop anything the real page cache has already
//              written (the kernel's own durability is not under test here); see
//              changes made by other processes or through the base directly.
//    So on POSIX it models the common "forgot to fsync" bugs of a create-write-rename
//    commit, not every crash outcome. Use the MemFileSystem for exact crash tests.
//
// Ownership: `base` is not owned and must outlive the wrapper and all it returns.
// Thread safety: safe from many threads, like any FileSystem.
#ifndef FERRY_STORAGE_FAULT_INJECTION_FILE_SYSTEM_H_
#define FERRY_STORAGE_FAULT_INJECTION_FILE_SYSTEM_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/file_system.h"

namespace ferry::storage {

enum class FaultOp {
  kStat,
  kWalk,      // FileSystem::Walk
  kWalkNext,  // DirectoryWalker::Next
  kOpenForRead,
  kRead,  // ReadableFile::ReadAt
  kDataExtents,
  kFileStat,  // ReadableFile::Stat
  kCreateTemp,
  kOpenForWrite,
  kWrite,  // WritableFile::WriteAt
  kTruncate,
  kSync,
  kClose,
  kRename,
  kSyncDir,
  kMakeDirs,
  kRemove,
  kSetModeAndMtime,
  kCreateSymlink,
  kFreeSpace,
  kOpenOrCreateForWrite,
  kSyncFileSystem,  // Path "" for path_prefix.
  kCopyFrom,        // WritableFile::CopyFrom; kWrite rules apply to it too.
  kLink,            // Matches either path.
  kSetOwner,
  kNumOps,  // Not an operation: the count of the above.
};

enum class FaultKind {
  kEio,         // UNAVAILABLE.
  kEnospc,      // RESOURCE_EXHAUSTED.
  kShortWrite,  // kWrite: half the data lands, then ENOSPC. Other ops: as kEnospc.
};

struct FaultRule {
  FaultOp op = FaultOp::kWrite;
  std::string path_prefix;  // Raw byte prefix of the path; "" matches every path.
  FaultKind kind = FaultKind::kEio;
  int skip = 0;    // Matching calls let through before the first failure.
  int times = -1;  // Failures before the rule retires; -1 for no limit.
};

class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base);
  ~FaultInjectionFileSystem() override;

  void AddFault(FaultRule rule);
  void ClearFaults();
  // Calls of `op` through this wrapper so far, failed ones included.
  int64_t Count(FaultOp op) const;
  void SimulateCrash();

  absl::StatusOr<FileInfo> Stat(absl::string_view path) override;
  absl::StatusOr<std::unique_ptr<DirectoryWalker>> Walk(absl::string_view path,
                                                        absl::string_view cursor) override;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(absl::string_view path) override;
  absl::StatusOr<TempFile> CreateTemp(absl::string_view target_path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWrite(
      absl::string_view path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> OpenOrCreateForWrite(
      absl::string_view path) override;
  absl::Status Rename(absl::string_view from, absl::string_view to,
                      CommitMode mode) override;
  absl::Status SyncDir(absl::string_view path) override;
  absl::Status SyncFileSystem() override;
  absl::Status MakeDirs(absl::string_view path, uint32_t mode) override;
  absl::Status Remove(absl::string_view path) override;
  absl::Status SetModeAndMtime(absl::string_view path, uint32_t mode,
                               int64_t mtime_ns) override;
  absl::Status CreateSymlink(absl::string_view target, absl::string_view path) override;
  absl::Status Link(absl::string_view existing, absl::string_view new_path) override;
  absl::Status SetOwner(absl::string_view path, uint32_t uid, uint32_t gid) override;
  absl::StatusOr<SpaceInfo> FreeSpace() override;

  // Internal, shared with the file and walker wrappers (public so they can name it).
  struct Shared;

 private:
  FileSystem* const base_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_FAULT_INJECTION_FILE_SYSTEM_H_
