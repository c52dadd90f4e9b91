// MemFileSystem: an in-memory FileSystem for tests (testonly), with the POSIX backend's
// semantics and a model of what is durable.
//
// Semantics: the same status codes and messages as PosixFileSystem for the same
// situations (the conformance suite runs both), including rename rules (replace,
// no-replace, a file over a directory or a directory over a file or a non-empty
// directory is FAILED_PRECONDITION, a directory into its own subtree INVALID_ARGUMENT),
// symlinks never followed (a symlink used as a directory is INVALID_ARGUMENT "symlink in
// path"), sparse files (DataExtents reports the written regions; Truncate extends with a
// hole; CopyFrom reads and writes the source's data extents and punches its holes),
// owners (new entries belong to the effective user and group; SetOwner follows
// chown(2)'s rules for the process's real privileges, root standing for CAP_CHOWN, and
// clears set-user-ID/set-group-ID bits as the kernel does),
// hard links (one node under several names: one inode, nlink counts the names, the
// bytes are freed with the last name), the same walk order and cursors (TreeWalker). Permission bits are stored but
// never enforced, like POSIX for root; FreeSpace reports a configurable capacity that
// writes consume, so RESOURCE_EXHAUSTED can be provoked.
//
// Durability model (exact, pessimistic): each regular file has a durable copy of its
// bytes, size, sparse map, mode, mtime and owner, updated only by WritableFile::Sync;
// each directory has a durable copy of its entries (name -> inode), mode, mtime and
// owner, updated
// only by SyncDir of that directory. A rename or create is durable only once the
// directory (or, for a rename between directories, each of the two directories) holding
// the changed entry is synced. DropUnsyncedData() (a simulated crash) makes the live
// tree equal to the durable one: unsynced bytes are gone, a file created but never
// synced is empty, entries created after their directory's last SyncDir vanish and
// entries removed since reappear (link counts follow). SyncFileSystem makes the whole live tree durable. Operations that add nothing to a crash test (MakeDirs,
// CreateSymlink, Link, SetModeAndMtime, SetOwner, MakeSpecialFile) follow the same rules.
//
// Ownership: files and walkers share the tree with the FileSystem and may outlive it.
// Thread safety: all operations take one mutex; safe from many threads.
#ifndef FERRY_STORAGE_MEM_FILE_SYSTEM_H_
#define FERRY_STORAGE_MEM_FILE_SYSTEM_H_

#include <cstdint>
#include <memory>

#include "storage/file_system.h"

namespace ferry::storage {

class MemFileSystem : public FileSystem {
 public:
  // `capacity_bytes` is FreeSpace's total; writes beyond it fail RESOURCE_EXHAUSTED.
  explicit MemFileSystem(uint64_t capacity_bytes = uint64_t{1} << 40);
  ~MemFileSystem() override;

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
  // As SyncAll.
  absl::Status SyncFileSystem() override;
  absl::Status MakeDirs(absl::string_view path, uint32_t mode) override;
  absl::Status Remove(absl::string_view path) override;
  absl::Status SetModeAndMtime(absl::string_view path, uint32_t mode,
                               int64_t mtime_ns) override;
  absl::Status SetOwner(absl::string_view path, uint32_t uid, uint32_t gid) override;
  absl::Status CreateSymlink(absl::string_view target, absl::string_view path) override;
  absl::Status Link(absl::string_view existing, absl::string_view new_path) override;
  absl::StatusOr<SpaceInfo> FreeSpace() override;

  // Test hooks.
  // Creates a FileType::kOther entry (stands for a FIFO, socket or device).
  absl::Status MakeSpecialFile(absl::string_view path);
  // Makes the whole live tree durable, as if every file and directory were synced.
  void SyncAll();
  // Simulated crash: reverts the live tree to its durable state (see above). Files and
  // walkers opened before keep pointing at the pre-crash inodes; discard them.
  void DropUnsyncedData();

  // Internal; public only so the implementation's helpers can name them.
  struct State;
  struct Node;

 private:
  // The regular file at `path` (checked as OpenForRead/OpenForWrite require).
  absl::StatusOr<std::shared_ptr<Node>> FindRegular(absl::string_view path,
                                                    absl::string_view op);

  std::shared_ptr<State> state_;
};

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_MEM_FILE_SYSTEM_H_
