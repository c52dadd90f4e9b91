// The POSIX (Linux) FileSystem: every byte ferry reads or writes on a real disk.
//
// Confinement: the root directory is opened once as an O_PATH|O_DIRECTORY descriptor,
// and every later lookup resolves from it (or from a directory descriptor opened beneath
// it) with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS). Paths
// are first checked by ValidateRelativePath, but the kernel is what guarantees that no
// spelling, symlink or concurrent rename inside the tree makes a lookup leave the root:
// an escape is refused with EXDEV ("path escapes root") and any symlink met on the way
// with ELOOP ("symlink in path"), both INVALID_ARGUMENT. Operations on the last
// component use *at() calls with a single validated name relative to an already
// confined parent descriptor, never following a final symlink (AT_SYMLINK_NOFOLLOW,
// O_NOFOLLOW, renameat2/unlinkat/mkdirat which do not follow it by nature).
//
// What this cannot defend against: someone who can move a directory from inside the
// root to outside it while ferry holds a descriptor to it (the descriptor follows the
// inode). That needs write access both inside and outside the root; ferry's roots are
// not shared with such writers. Mount points inside the root are crossed (RESOLVE_NO_XDEV
// is not set); whoever mounts inside a root already controls it.
//
// Walk: DFS pre-order, names sorted byte-wise (memcmp), one open directory descriptor
// and one sorted name list per directory on the current path; so depth is limited by
// RLIMIT_NOFILE (EMFILE -> RESOURCE_EXHAUSTED). A directory that vanishes, or is replaced
// by a non-directory, between being listed and being opened is skipped with its contents.
// The cursor is EncodeWalkCursor(last returned path relative to the walk's start): resume
// re-lists each directory on that path and continues after the named entry, so it stays
// valid across processes and tolerates entries added or removed meanwhile.
//
// OpenForRead/OpenForWrite/OpenOrCreateForWrite: lstat first, so FIFOs, sockets and
// devices are refused
// without ever being opened (INVALID_ARGUMENT; a directory is FAILED_PRECONDITION; a
// symlink is INVALID_ARGUMENT "symlink in path"); the open itself uses
// O_NOFOLLOW|O_NONBLOCK and is fstat-checked again, so a FIFO swapped in meanwhile
// cannot hang the caller either.
//
// Link: the existing name is opened O_PATH|O_NOFOLLOW beneath its confined parent and
// fstat-checked (only a regular file), then exactly that inode is linked with
// linkat(AT_FDCWD, "/proc/self/fd/N", new_dir_fd, new_name, AT_SYMLINK_FOLLOW): a rename
// meanwhile cannot make it link something else, and the new name is never followed.
// Needs /proc mounted (as the chmod fallback below 6.6 does).
//
// SetOwner: fchownat(AT_SYMLINK_NOFOLLOW) of the name in its confined parent (the root
// through its own descriptor with AT_EMPTY_PATH): a final symlink gets the new owner
// itself, its target never does.
//
// WritableFile::CopyFrom: copy_file_range(2) per data extent of the source when it is a
// file of this backend too (no copy through user space), otherwise, and on EXDEV, EINVAL,
// ENOSYS or EOPNOTSUPP, pread/pwrite through a buffer; holes over existing data are
// punched (fallocate PUNCH_HOLE), and the file is grown over a trailing hole by fallocate
// of its last byte, never by ftruncate (another handle may be growing the same file).
//
// SyncFileSystem: syncfs(2) on the root, opened for reading once when the FileSystem is
// made, so every write-back error on the file system since then is reported (once).
// syncfs flushes the whole file system holding the root, not only the root's tree, and
// not file systems mounted inside the root.
//
// Ownership: the FileSystem owns the root descriptor; each ReadableFile, WritableFile and
// DirectoryWalker owns its own descriptors and may outlive the FileSystem.
// Thread safety: the FileSystem is immutable after construction and safe for concurrent
// use; the objects it returns are for one thread at a time (see file_system.h).
#ifndef FERRY_STORAGE_POSIX_FILE_SYSTEM_H_
#define FERRY_STORAGE_POSIX_FILE_SYSTEM_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/file_system.h"

namespace ferry::storage {

// Opens `root_dir` (an existing directory; symlinks in root_dir itself are followed,
// since the operator chose it) and returns a FileSystem confined to it.
// NOT_FOUND / PERMISSION_DENIED / FAILED_PRECONDITION (not a directory) otherwise.
absl::StatusOr<std::unique_ptr<FileSystem>> NewPosixFileSystem(const std::string& root_dir);

}  // namespace ferry::storage

#endif  // FERRY_STORAGE_POSIX_FILE_SYSTEM_H_
