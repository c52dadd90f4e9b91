// FileSystem: every byte ferry reads or writes goes through this interface.
//
// A FileSystem is rooted at one directory. Every path given to it is relative to that
// root ("a/b/c"; "" names the root itself) and can never resolve outside it, however it
// is spelled: `..`, absolute paths, symlinks (never followed), doubled slashes, NUL
// bytes, over-long names are refused with INVALID_ARGUMENT before any I/O, and the
// POSIX implementation also has the kernel enforce confinement (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS).
//
// Status codes are chosen by what the caller should do next:
//   NOT_FOUND            the path (or a parent) does not exist: permanent for this file.
//   PERMISSION_DENIED    the OS refused access: permanent until someone fixes modes.
//   INVALID_ARGUMENT     the path is malformed or escapes the root; also opening a
//                        FIFO, socket or device for reading: permanent.
//   FAILED_PRECONDITION  wrong type (a directory where a file is needed, not empty) or
//                        the target exists under CommitMode::kNoReplace.
//   ALREADY_EXISTS       Link only: the new name exists (a retried link may find the one
//                        it made before: compare device and inode).
//   RESOURCE_EXHAUSTED   ENOSPC / EDQUOT: retry later or elsewhere.
//   UNAVAILABLE          EIO and other transient errors the caller may retry.
//   INTERNAL             anything else (a bug or an unexpected errno).
// Messages name the path (relative to the root) and the failing operation. The full
// errno table is in storage/errno_status.h; every backend maps through it.
//
// Thread safety: a FileSystem is safe to use from many threads at once. ReadableFile,
// WritableFile and DirectoryWalker objects are used by one thread at a time.
#ifndef FERRY_STORAGE_FILE_SYSTEM_H_
#define FERRY_STORAGE_FILE_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ferry::storage {

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

// What lstat says about one path. Symlinks are described, never followed.
struct FileInfo {
  std::string path;  // Relative to the root; "" for the root itself.
  FileType type = FileType::kOther;
  uint64_t size = 0;           // Bytes; for symlinks the length of the target.
  uint32_t mode = 0;           // Permission bits only (mode & 07777).
  int64_t mtime_ns = 0;        // Nanoseconds since the Unix epoch.
  uint64_t inode = 0;          // With `device`, identifies hard links.
  uint64_t device = 0;
  uint64_t nlink = 0;          // Names of this inode; a directory: 2 + subdirectories.
                               // 0 for an open file whose last name was removed.
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string symlink_target;  // Only for kSymlink: the link's text, unresolved.
};

// A data region of a sparse file: [offset, offset + length).
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Positional reads of one open regular file.
class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to `n` bytes at `offset` into `buf`, retrying EINTR and short reads until
  // `n` bytes or end of file. Returns the number of bytes read; fewer than `n` only at
  // end of file.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf, size_t n) = 0;
  // fstat of the open file (path is the path it was opened with).
  virtual absl::StatusOr<FileInfo> Stat() = 0;
  // Data regions within [offset, offset + length), from SEEK_DATA/SEEK_HOLE; a file
  // system without hole support returns the whole range as one extent.
  virtual absl::StatusOr<std::vector<Extent>> DataExtents(uint64_t offset,
                                                          uint64_t length) = 0;
};

// Positional writes of one open regular file (normally a temporary file).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at `offset`, retrying EINTR and short writes.
  virtual absl::Status WriteAt(uint64_t offset, absl::string_view data) = 0;
  // Sets the file's size (extends with a hole, or cuts).
  virtual absl::Status Truncate(uint64_t size) = 0;
  // fsync: after OK the written data survives a crash.
  virtual absl::Status Sync() = 0;
  // Closes the descriptor; reports errors a delayed write may surface. Idempotent.
  virtual absl::Status Close() = 0;
  // Starts writing [offset, offset + length) (length 0: through the end of the file) to
  // storage without waiting for it: a hint, nothing is durable until Sync, which then
  // has less left to do. A chunk of a large file calls it once written, so the disk
  // works while the other chunks still arrive. Default (memory, wrappers): does
  // nothing. POSIX: sync_file_range(SYNC_FILE_RANGE_WRITE); a file system without it is
  // not an error; UNAVAILABLE for EIO.
  virtual absl::Status StartWriteback(uint64_t offset, uint64_t length);

  // Copies up to `length` bytes of `source` starting at `source_offset` into this file
  // at `offset`; returns how many were copied, fewer than `length` only where the source
  // ends (its size is read once, at the start). Afterwards the destination range reads
  // as the source range did, and the file is at least `offset` + that count long (never
  // shortened). Holes are kept: only the source's data extents (DataExtents) are read
  // and written; over a source hole the destination is left a hole (punched where it
  // held data, extended without writing where it was shorter). The POSIX backend copies
  // in the kernel (copy_file_range(2)) when `source` is a POSIX file too, else through a
  // buffer; the default, for wrappers, reads and writes through this file's WriteAt and
  // writes zeros over holes. Errors as ReadAt (the source) and WriteAt (this file);
  // INVALID_ARGUMENT if `offset` + the count passes the largest file offset. After an
  // error the destination range holds an unspecified mix. If the source changes during
  // the copy, or is this same file with an overlapping range, the result is unspecified.
  virtual absl::StatusOr<uint64_t> CopyFrom(ReadableFile& source, uint64_t source_offset,
                                            uint64_t offset, uint64_t length);

 protected:
  // The copy loop every implementation shares (and the default CopyFrom): walks the
  // source's data extents, 1 GiB of the source at a time so memory stays bounded,
  // calling CopyData for each data extent, ClearRange for each hole, and ExtendTo when
  // the range ends in a hole.
  absl::StatusOr<uint64_t> CopyExtents(ReadableFile& source, uint64_t source_offset,
                                       uint64_t offset, uint64_t length);
  // Copies one data extent; returns the count, fewer than `length` only where the
  // source ends. Default: ReadAt and WriteAt through a buffer of at most 256 KiB.
  virtual absl::StatusOr<uint64_t> CopyData(ReadableFile& source, uint64_t source_offset,
                                            uint64_t offset, uint64_t length);
  // Makes [offset, offset + length) read as zeros where it lies within the file.
  // Default: writes zeros over all of it (growing the file); backends punch a hole.
  virtual absl::Status ClearRange(uint64_t offset, uint64_t length);
  // Grows the file to at least `size` bytes (never shrinks it: another handle may be
  // growing the same file), after a hole at its end was cleared. Default: writes a zero
  // byte at `size` - 1.
  virtual absl::Status ExtendTo(uint64_t size);
};

// A streaming, depth-first, pre-order walk in byte-wise sorted order of names, so the
// same tree always yields the same sequence and a walk can resume from a cursor.
// Memory is bounded by the names of the directories on the current path, not by the
// size of the tree.
class DirectoryWalker {
 public:
  virtual ~DirectoryWalker() = default;
  // Fills `entry` with the next entry and returns true, or returns false at the end.
  // Directories are returned before their contents. Entries are not followed through
  // symlinks. An entry that vanishes between listing and stat is skipped.
  virtual absl::StatusOr<bool> Next(FileInfo* entry) = 0;
  // An opaque cursor: Walk(root_of_walk, cursor) resumes after the last entry returned
  // by Next. Valid across processes and backends (the controller checkpoints it in
  // RocksDB); format in storage/path.h (EncodeWalkCursor). After Next returns an error
  // the walker is done, but Cursor() still names the last entry returned.
  virtual std::string Cursor() const = 0;
};

enum class CommitMode {
  kReplace,    // rename(2): atomically replaces an existing target.
  kNoReplace,  // renameat2(RENAME_NOREPLACE): FAILED_PRECONDITION if the target exists.
};

struct TempFile {
  std::string path;  // Relative to the root, beside the target, hidden (".ferry-tmp.").
  std::unique_ptr<WritableFile> file;
};

// Free space of the file system holding the root (statvfs).
struct SpaceInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;  // For an unprivileged writer.
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // lstat: describes `path` itself (a symlink is reported as kSymlink).
  virtual absl::StatusOr<FileInfo> Stat(absl::string_view path) = 0;

  // Walks the tree under `path` (excluding `path` itself when it is a directory; a
  // regular file or symlink yields exactly one entry, itself). `cursor` is "" to start
  // or a value from DirectoryWalker::Cursor() of a walk of the same `path`; an invalid
  // cursor is INVALID_ARGUMENT.
  virtual absl::StatusOr<std::unique_ptr<DirectoryWalker>> Walk(
      absl::string_view path, absl::string_view cursor) = 0;

  // Opens a regular file for reading. A directory is refused with FAILED_PRECONDITION;
  // a symlink, FIFO, socket or device with INVALID_ARGUMENT, without blocking.
  virtual absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(
      absl::string_view path) = 0;

  // Creates a new hidden temporary file, mode 0600, in the directory of
  // `target_path` (which must exist), with a name that marks it as ferry's
  // (".ferry-tmp.<target name>.<random>") so orphans can be found and removed.
  virtual absl::StatusOr<TempFile> CreateTemp(absl::string_view target_path) = 0;

  // Opens an existing regular file for positional writes (no O_CREAT, no O_TRUNC):
  // how a worker writes its chunk into a temporary file another worker created.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWrite(
      absl::string_view path) = 0;

  // Opens the regular file at `path` for positional writes, creating it empty with mode
  // 0600 (less the umask) when it is absent; an existing file keeps its bytes (no
  // O_TRUNC) and mode. How the chunks of one large file share their temporary file:
  // several workers may call it at once for the same path, one of them creates it and
  // all of them write the same file. The parent directory must exist (NOT_FOUND). As
  // OpenForWrite, never follows a symlink and never opens anything but a regular file:
  // a directory (or "") is FAILED_PRECONDITION; a symlink, FIFO, socket or device is
  // INVALID_ARGUMENT, refused without opening it. Because such a name is predictable,
  // an existing file with more than one link or owned by another user than the
  // process's effective user is PERMISSION_DENIED and left alone (a backend without
  // owners or hard links has nothing to refuse).
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenOrCreateForWrite(
      absl::string_view path) = 0;

  // Renames `from` to `to` atomically under `mode`. Both in the same file system.
  virtual absl::Status Rename(absl::string_view from, absl::string_view to,
                              CommitMode mode) = 0;

  // fsync of a directory, so a rename or create inside it survives a crash.
  virtual absl::Status SyncDir(absl::string_view path) = 0;

  // Makes everything written so far under the root durable at once: the bytes and
  // metadata of every file and every directory entry, as if each file had been Synced
  // and each directory SyncDir'ed (POSIX: syncfs(2) of the file system holding the
  // root, which also flushes whatever else lives on it). How a task of many small files
  // commits cheaply: write them all, SyncFileSystem, rename them all, SyncFileSystem,
  // instead of a Sync per file and a SyncDir per directory. Not covered: a file system
  // mounted inside the root (use Sync and SyncDir there). Failure (UNAVAILABLE for EIO,
  // RESOURCE_EXHAUSTED for ENOSPC/EDQUOT): a write-back error somewhere on the file
  // system since this FileSystem was made, reported once, to the first call that sees
  // it; anything written since the last successful SyncFileSystem may then be lost, so
  // the caller redoes that work rather than only calling SyncFileSystem again.
  virtual absl::Status SyncFileSystem() = 0;

  // mkdir -p with `mode` for directories it creates; OK if it already exists as a
  // directory; FAILED_PRECONDITION if a component is not a directory.
  virtual absl::Status MakeDirs(absl::string_view path, uint32_t mode) = 0;

  // Removes a file, symlink or empty directory. NOT_FOUND if absent.
  virtual absl::Status Remove(absl::string_view path) = 0;

  // Sets permission bits (07777) and modification time of `path`, not following a
  // symlink.
  virtual absl::Status SetModeAndMtime(absl::string_view path, uint32_t mode,
                                       int64_t mtime_ns) = 0;

  // Sets the owner and group of `path` itself, never following a symlink (lchown).
  // PERMISSION_DENIED unless the OS allows it: root may give anything to anyone; another
  // user may only keep the owner and pick a group they are in. INVALID_ARGUMENT for the
  // id 4294967295 (chown's "leave unchanged") and for an id the system cannot represent
  // (EINVAL: unmapped in a user namespace). As chown(2) does, a non-directory loses
  // its set-user-ID bit and, if group-executable, its set-group-ID bit: set the mode
  // afterwards. Durable like the mode (Sync, SyncDir or SyncFileSystem).
  virtual absl::Status SetOwner(absl::string_view path, uint32_t uid, uint32_t gid) = 0;

  // Creates a symlink at `path` whose text is `target` (never resolved here).
  virtual absl::Status CreateSymlink(absl::string_view target,
                                     absl::string_view path) = 0;

  // Makes `new_path` another name (a hard link) of the regular file `existing`, never
  // following a symlink: how hard links within one transfer are kept (FileInfo's
  // device, inode and nlink let a planner recognise them). ALREADY_EXISTS if `new_path`
  // exists; FAILED_PRECONDITION if `existing` is not a regular file (a directory, a
  // symlink, a FIFO...), if the two are on different file systems or the file has as
  // many links as it can; PERMISSION_DENIED where the OS refuses (e.g. another user's
  // file under fs.protected_hardlinks). Durable once new_path's directory is synced.
  virtual absl::Status Link(absl::string_view existing, absl::string_view new_path) = 0;

  virtual absl::StatusOr<SpaceInfo> FreeSpace() = 0;
};

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_FILE_SYSTEM_H_
