#include "storage/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/errno_status.h"
#include "storage/path.h"
#include "storage/tree_walker.h"
#include "storage/unique_fd.h"

namespace ferry::storage {
namespace {

constexpr uint64_t kResolve =
    RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
// openat2 may report EAGAIN when it cannot rule out a race with a concurrent rename;
// the man page invites a retry. Bounded so a hostile renamer cannot spin us forever.
constexpr int kMaxOpenAttempts = 16;
// fchmodat2 (Linux 6.6) is the only race-free chmod that never follows a final symlink;
// Debian 12's headers predate it. New syscalls share one number on all architectures.
constexpr long kSysFchmodat2 = 452;
constexpr int kMaxTempAttempts = 8;
// No file extends past the largest off_t: offsets beyond it are past end of file.
constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
// One copy_file_range call at most (the kernel caps a call near 2 GiB anyway).
constexpr uint64_t kMaxKernelCopy = uint64_t{1} << 30;

// The end of [offset, offset + length) clamped to kMaxOffset, without overflow.
uint64_t ClampedEnd(uint64_t offset, uint64_t length) {
  if (offset >= kMaxOffset) return kMaxOffset;
  return offset + std::min(length, kMaxOffset - offset);
}

// --- Small syscall helpers -------------------------------------------------------------

// Opens `rel` ("" for dirfd itself) beneath `dirfd` without following any symlink.
absl::StatusOr<UniqueFd> OpenBeneath(int dirfd, absl::string_view rel, uint64_t flags,
                                     absl::string_view op, absl::string_view path,
                                     mode_t mode = 0) {
  // openat2 has no AT_EMPTY_PATH; "." names dirfd itself and is still confined.
  const std::string spelled = rel.empty() ? std::string(".") : std::string(rel);
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = kResolve;
  for (int attempt = 1;; ++attempt) {
    long fd = syscall(SYS_openat2, dirfd, spelled.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    const int err = errno;
    if (err == EINTR || (err == EAGAIN && attempt < kMaxOpenAttempts)) continue;
    return ResolveErrnoToStatus(err, op, path);
  }
}

absl::Status LstatAt(int dirfd, absl::string_view name, struct stat* st,
                     absl::string_view op, absl::string_view path) {
  const std::string n(name);
  if (fstatat(dirfd, n.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0) return absl::OkStatus();
  return ErrnoToStatus(errno, op, path);
}

absl::Status Fstat(int fd, struct stat* st, absl::string_view op, absl::string_view path) {
  if (fstat(fd, st) == 0) return absl::OkStatus();
  return ErrnoToStatus(errno, op, path);
}

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  return FileType::kOther;
}

// Sets every field of *info from `st`, assigning the strings into their existing
// capacity; symlink_target is cleared.
void FillInfoFromStat(const struct stat& st, absl::string_view path, FileInfo* info) {
  info->path.assign(path.data(), path.size());
  info->type = TypeOf(st.st_mode);
  info->size = static_cast<uint64_t>(st.st_size);
  info->mode = st.st_mode & 07777;
  info->mtime_ns =
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info->inode = st.st_ino;
  info->device = st.st_dev;
  info->nlink = st.st_nlink;
  info->uid = st.st_uid;
  info->gid = st.st_gid;
  info->symlink_target.clear();
}

FileInfo InfoFromStat(const struct stat& st, absl::string_view path) {
  FileInfo info;
  FillInfoFromStat(st, path, &info);
  return info;
}

// lstat of `name` (NUL-terminated) in `dirfd` into *info, with the link text for
// symlinks. On error *info is unchanged.
absl::Status DescribeAtInto(int dirfd, const char* name, absl::string_view path,
                            FileInfo* info) {
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoToStatus(errno, "stat", path);
  }
  if (!S_ISLNK(st.st_mode)) {
    FillInfoFromStat(st, path, info);
    return absl::OkStatus();
  }
  char target[kMaxPathBytes + 1];
  const ssize_t len = readlinkat(dirfd, name, target, sizeof target);
  if (len < 0) return ErrnoToStatus(errno, "readlink", path);
  FillInfoFromStat(st, path, info);
  info->symlink_target.assign(target, static_cast<size_t>(len));
  return absl::OkStatus();
}

// lstat of `name` in `dirfd` as a FileInfo, with the link text for symlinks.
absl::StatusOr<FileInfo> DescribeAt(int dirfd, absl::string_view name,
                                    absl::string_view path) {
  const std::string n(name);
  FileInfo info;
  if (absl::Status s = DescribeAtInto(dirfd, n.c_str(), path, &info); !s.ok()) return s;
  return info;
}

absl::Status ClearNonBlocking(int fd, absl::string_view op, absl::string_view path) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
    return ErrnoToStatus(errno, op, path);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RandomU64() {
  uint64_t value;
  char* bytes = reinterpret_cast<char*>(&value);
  size_t got = 0;
  while (got < sizeof value) {
    ssize_t n = getrandom(bytes + got, sizeof value - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoToStatus(errno, "getrandom", "");
    got += static_cast<size_t>(n);
  }
  return value;
}

// --- Files -----------------------------------------------------------------------------

class PosixReadableFile : public ReadableFile {
 public:
  PosixReadableFile(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    n = static_cast<size_t>(ClampedEnd(offset, n) - std::min(offset, kMaxOffset));
    size_t done = 0;
    while (done < n) {
      ssize_t got = pread(fd_.get(), buf + done, n - done, offset + done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return ErrnoToStatus(errno, "read", path_);
      if (got == 0) break;  // End of file.
      done += static_cast<size_t>(got);
    }
    return done;
  }

  absl::StatusOr<FileInfo> Stat() override {
    struct stat st;
    if (absl::Status s = Fstat(fd_.get(), &st, "stat", path_); !s.ok()) return s;
    return InfoFromStat(st, path_);
  }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  absl::StatusOr<std::vector<Extent>> DataExtents(uint64_t offset,
                                                  uint64_t length) override {
    const uint64_t end = ClampedEnd(offset, length);
    std::vector<Extent> extents;
    uint64_t pos = offset;
    while (pos < end) {
      off_t data = lseek(fd_.get(), static_cast<off_t>(pos), SEEK_DATA);
      if (data < 0 && errno == ENXIO) break;  // No data at or after pos.
      if (data < 0 && errno == EINVAL) return WholeRange(offset, end);  // No support.
      if (data < 0) return ErrnoToStatus(errno, "seek data", path_);
      if (static_cast<uint64_t>(data) >= end) break;
      off_t hole = lseek(fd_.get(), data, SEEK_HOLE);
      if (hole < 0) return ErrnoToStatus(errno, "seek hole", path_);
      const uint64_t stop = std::min<uint64_t>(static_cast<uint64_t>(hole), end);
      extents.push_back({static_cast<uint64_t>(data), stop - static_cast<uint64_t>(data)});
      pos = stop;
    }
    return extents;
  }

 private:
  static std::vector<Extent> WholeRange(uint64_t offset, uint64_t end) {
    if (end <= offset) return {};
    return {{offset, end - offset}};
  }

  UniqueFd fd_;
  std::string path_;
};

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    if (absl::Status s = CheckOpen("write"); !s.ok()) return s;
    size_t done = 0;
    while (done < data.size()) {
      ssize_t put = pwrite(fd_.get(), data.data() + done, data.size() - done,
                           static_cast<off_t>(offset + done));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return ErrnoToStatus(errno, "write", path_);
      done += static_cast<size_t>(put);
    }
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (absl::Status s = CheckOpen("truncate"); !s.ok()) return s;
    while (ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return ErrnoToStatus(errno, "truncate", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    if (absl::Status s = CheckOpen("fsync"); !s.ok()) return s;
    while (fsync(fd_.get()) != 0) {
      if (errno != EINTR) return ErrnoToStatus(errno, "fsync", path_);
    }
    return absl::OkStatus();
  }

  absl::Status StartWriteback(uint64_t offset, uint64_t length) override {
    if (absl::Status s = CheckOpen("start writeback of"); !s.ok()) return s;
    while (sync_file_range(fd_.get(), static_cast<off64_t>(offset),
                           static_cast<off64_t>(length), SYNC_FILE_RANGE_WRITE) != 0) {
      if (errno == EINTR) continue;
      // A hint: where the file system cannot start writeback early, Sync does it all.
      if (errno == EINVAL || errno == ESPIPE || errno == ENOSYS) return absl::OkStatus();
      return ErrnoToStatus(errno, "start writeback of", path_);
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (!fd_.valid()) return absl::OkStatus();
    // Linux frees the descriptor even when close fails (also on EINTR): never retry.
    if (::close(fd_.Release()) != 0 && errno != EINTR) {
      return ErrnoToStatus(errno, "close", path_);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> CopyFrom(ReadableFile& source, uint64_t source_offset,
                                    uint64_t offset, uint64_t length) override {
    if (absl::Status s = CheckOpen("copy"); !s.ok()) return s;
    // copy_file_range needs both descriptors: any other source goes through a buffer.
    kernel_source_ = dynamic_cast<PosixReadableFile*>(&source);
    absl::StatusOr<uint64_t> copied = CopyExtents(source, source_offset, offset, length);
    kernel_source_ = nullptr;
    return copied;
  }

 protected:
  absl::StatusOr<uint64_t> CopyData(ReadableFile& source, uint64_t source_offset,
                                    uint64_t offset, uint64_t length) override {
    uint64_t done = 0;
    while (kernel_source_ != nullptr && done < length) {
      loff_t in = static_cast<loff_t>(source_offset + done);
      loff_t out = static_cast<loff_t>(offset + done);
      const ssize_t n = copy_file_range(kernel_source_->fd(), &in, fd_.get(), &out,
                                        std::min(length - done, kMaxKernelCopy), 0);
      if (n > 0) {
        done += static_cast<uint64_t>(n);
      } else if (n == 0) {
        return done;  // The source ended.
      } else if (errno == EINTR) {
        continue;
      } else if (KernelCopyUnsupported(errno)) {
        kernel_source_ = nullptr;  // Not between these two files: buffer from now on.
      } else {
        return ErrnoToStatus(errno, "copy", absl::StrCat(kernel_source_->path(), " -> ", path_));
      }
    }
    if (done == length) return done;
    absl::StatusOr<uint64_t> rest =
        WritableFile::CopyData(source, source_offset + done, offset + done, length - done);
    if (!rest.ok()) return rest.status();
    return done + *rest;
  }

  absl::Status ClearRange(uint64_t offset, uint64_t length) override {
    absl::StatusOr<uint64_t> size = Size();
    if (!size.ok()) return size.status();
    if (offset >= *size) return absl::OkStatus();
    return PunchData(offset, std::min(offset + length, *size));
  }

  // fallocate of the last byte leaves one unwritten block, which reads as zeros and
  // SEEK_DATA reports as a hole (until that page is read into the page cache); where
  // fallocate is unsupported, a zero byte is written there instead.
  absl::Status ExtendTo(uint64_t size) override {
    absl::StatusOr<uint64_t> now = Size();
    if (!now.ok()) return now.status();
    if (*now >= size) return absl::OkStatus();
    while (fallocate(fd_.get(), 0, static_cast<off_t>(size - 1), 1) != 0) {
      if (errno == EINTR) continue;
      if (errno == EOPNOTSUPP || errno == ENOSYS) return WritableFile::ExtendTo(size);
      return ErrnoToStatus(errno, "extend", path_);
    }
    return absl::OkStatus();
  }

 private:
  // copy_file_range cannot copy between these two files (other file systems, a kernel
  // or file system without it, the same file): copy through a buffer instead.
  static bool KernelCopyUnsupported(int err) {
    return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
  }

  // Punches [start, end) where it holds data; a range that is a hole already (a fresh
  // temporary file) costs one lseek and no journal work. Zeros are written where
  // punching is unsupported.
  absl::Status PunchData(uint64_t start, uint64_t end) {
    const off_t data = lseek(fd_.get(), static_cast<off_t>(start), SEEK_DATA);
    if (data < 0 && errno == ENXIO) return absl::OkStatus();  // No data from start on.
    if (data < 0 && errno != EINVAL) return ErrnoToStatus(errno, "seek data", path_);
    if (data >= 0 && static_cast<uint64_t>(data) >= end) return absl::OkStatus();
    const uint64_t from = data < 0 ? start : static_cast<uint64_t>(data);
    while (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     static_cast<off_t>(from), static_cast<off_t>(end - from)) != 0) {
      if (errno == EINTR) continue;
      if (errno == EOPNOTSUPP || errno == ENOSYS) {
        return WritableFile::ClearRange(from, end - from);
      }
      return ErrnoToStatus(errno, "punch hole", path_);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const {
    struct stat st;
    if (absl::Status s = Fstat(fd_.get(), &st, "copy", path_); !s.ok()) return s;
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status CheckOpen(absl::string_view op) const {
    if (fd_.valid()) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(op, " ", PathForMessage(path_), ": file already closed"));
  }

  UniqueFd fd_;
  std::string path_;
  PosixReadableFile* kernel_source_ = nullptr;  // During CopyFrom, if copy_file_range may do.
};

// --- Walk ------------------------------------------------------------------------------

// Appends the names in the directory open as `dirfd`, from its current offset to the
// end, except "." and "..". getdents64 straight into a stack buffer (what readdir does
// inside, without the duplicate descriptor and DIR that fdopendir would need).
absl::Status ListNamesInto(int dirfd, absl::string_view path, NameList* names) {
  alignas(struct dirent64) char buf[32 * 1024];
  for (;;) {
    const ssize_t got = getdents64(dirfd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoToStatus(errno, "list", path);
    if (got == 0) return absl::OkStatus();
    for (size_t off = 0; off < static_cast<size_t>(got);) {
      const auto* ent = reinterpret_cast<const struct dirent64*>(buf + off);
      off += ent->d_reclen;
      const char* name = ent->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) {
        continue;
      }
      names->Add(absl::string_view(name, std::strlen(name)));
    }
  }
}

// Errors on opening a listed directory that mean "it is no longer a directory here".
bool VanishedDirectory(const absl::Status& s) {
  return absl::IsNotFound(s) || absl::IsInvalidArgument(s) ||
         absl::IsFailedPrecondition(s);
}

// A directory opened O_RDONLY beneath the root, for TreeWalker.
class PosixWalkDirectory : public WalkDirectory {
 public:
  PosixWalkDirectory(UniqueFd fd, std::string path)
      : fd_(std::move(fd)), path_(std::move(path)) {}

  absl::StatusOr<std::vector<std::string>> List() override {
    NameList names;
    if (absl::Status s = ListInto(&names); !s.ok()) return s;
    std::vector<std::string> list;
    list.reserve(names.size());
    for (size_t i = 0; i < names.size(); ++i) list.emplace_back(names[i]);
    return list;
  }

  absl::Status ListInto(NameList* names) override {
    // getdents64 goes on from the descriptor's offset: a second listing starts over.
    if (listed_ && lseek(fd_.get(), 0, SEEK_SET) < 0) {
      return ErrnoToStatus(errno, "list", path_);
    }
    listed_ = true;
    return ListNamesInto(fd_.get(), path_, names);
  }

  absl::StatusOr<FileInfo> Describe(const std::string& name,
                                    const std::string& path) override {
    return DescribeAt(fd_.get(), name, path);
  }

  absl::Status DescribeInto(absl::string_view name, absl::string_view path,
                            FileInfo* info) override {
    return DescribeAtInto(fd_.get(), name.data(), path, info);
  }

  absl::StatusOr<std::unique_ptr<WalkDirectory>> OpenChild(
      const std::string& name, const std::string& path) override {
    // Beneath this directory (itself beneath the root), never through a symlink: a
    // directory swapped for a symlink since it was listed fails with ELOOP.
    absl::StatusOr<UniqueFd> fd = OpenBeneath(
        fd_.get(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, "open directory", path);
    if (!fd.ok()) {
      if (VanishedDirectory(fd.status())) return std::unique_ptr<WalkDirectory>();
      return fd.status();
    }
    return std::unique_ptr<WalkDirectory>(new PosixWalkDirectory(*std::move(fd), path));
  }

 private:
  UniqueFd fd_;
  std::string path_;
  bool listed_ = false;
};

// --- The file system -------------------------------------------------------------------

class PosixFileSystem : public FileSystem {
 public:
  PosixFileSystem(UniqueFd root, UniqueFd sync)
      : root_(std::move(root)), sync_(std::move(sync)) {}

  absl::StatusOr<FileInfo> Stat(absl::string_view path) override {
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    if (path.empty()) {
      struct stat st;
      if (absl::Status s = Fstat(root_.get(), &st, "stat", path); !s.ok()) return s;
      return InfoFromStat(st, path);
    }
    absl::StatusOr<UniqueFd> parent = OpenParent(path, "stat");
    if (!parent.ok()) return parent.status();
    return DescribeAt(parent->get(), Basename(path), path);
  }

  absl::StatusOr<std::unique_ptr<DirectoryWalker>> Walk(absl::string_view path,
                                                        absl::string_view cursor) override {
    absl::StatusOr<FileInfo> info = Stat(path);
    if (!info.ok()) return info.status();
    std::unique_ptr<WalkDirectory> start;
    if (info->type == FileType::kDirectory) {
      absl::StatusOr<UniqueFd> dir = OpenBeneath(
          root_.get(), path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, "walk", path);
      if (!dir.ok()) return dir.status();
      start = std::make_unique<PosixWalkDirectory>(*std::move(dir), std::string(path));
    }
    return NewTreeWalker(*std::move(info), std::move(start), cursor);
  }

  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(
      absl::string_view path) override {
    absl::StatusOr<UniqueFd> fd = OpenRegular(path, O_RDONLY, "open for read");
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<ReadableFile>(
        new PosixReadableFile(*std::move(fd), std::string(path)));
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenForWrite(
      absl::string_view path) override {
    absl::StatusOr<UniqueFd> fd = OpenRegular(path, O_WRONLY, "open for write");
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(*std::move(fd), std::string(path)));
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenOrCreateForWrite(
      absl::string_view path) override {
    absl::StatusOr<UniqueFd> fd =
        OpenRegular(path, O_WRONLY, "open or create", /*create=*/true);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(*std::move(fd), std::string(path)));
  }

  absl::StatusOr<TempFile> CreateTemp(absl::string_view target_path) override {
    if (absl::Status s = ValidateNonRootPath(target_path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> parent = OpenParent(target_path, "create temp");
    if (!parent.ok()) return parent.status();
    for (int attempt = 1;; ++attempt) {
      absl::StatusOr<uint64_t> random = RandomU64();
      if (!random.ok()) return random.status();
      const std::string name = TempFileName(Basename(target_path), *random);
      const std::string path = JoinPath(Dirname(target_path), name);
      absl::StatusOr<UniqueFd> fd =
          OpenBeneath(parent->get(), name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW,
                      "create temp", path, 0600);
      if (absl::IsFailedPrecondition(fd.status()) && attempt < kMaxTempAttempts) continue;
      if (!fd.ok()) return fd.status();
      return TempFile{path, std::make_unique<PosixWritableFile>(*std::move(fd), path)};
    }
  }

  absl::Status Rename(absl::string_view from, absl::string_view to,
                      CommitMode mode) override {
    if (absl::Status s = ValidateNonRootPath(from); !s.ok()) return s;
    if (absl::Status s = ValidateNonRootPath(to); !s.ok()) return s;
    absl::StatusOr<UniqueFd> from_dir = OpenParent(from, "rename");
    if (!from_dir.ok()) return from_dir.status();
    absl::StatusOr<UniqueFd> to_dir = OpenParent(to, "rename");
    if (!to_dir.ok()) return to_dir.status();
    const std::string from_name(Basename(from)), to_name(Basename(to));
    const unsigned flags = mode == CommitMode::kNoReplace ? RENAME_NOREPLACE : 0;
    if (renameat2(from_dir->get(), from_name.c_str(), to_dir->get(), to_name.c_str(),
                  flags) != 0) {
      return ErrnoToStatus(errno, "rename", absl::StrCat(from, " -> ", to));
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(absl::string_view path) override {
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    // fsync needs a real descriptor; O_PATH ones are refused with EBADF.
    absl::StatusOr<UniqueFd> dir =
        OpenBeneath(root_.get(), path, O_RDONLY | O_DIRECTORY, "sync dir", path);
    if (!dir.ok()) return dir.status();
    while (fsync(dir->get()) != 0) {
      if (errno != EINTR) return ErrnoToStatus(errno, "sync dir", path);
    }
    return absl::OkStatus();
  }

  absl::Status SyncFileSystem() override {
    if (sync_.valid()) return SyncFs(sync_.get());
    // The root could not be opened for reading when this FileSystem was made: a fresh
    // descriptor reports only write-back errors nobody has seen yet.
    absl::StatusOr<UniqueFd> root =
        OpenBeneath(root_.get(), "", O_RDONLY | O_DIRECTORY, "syncfs", "");
    if (!root.ok()) return root.status();
    return SyncFs(root->get());
  }

  absl::Status MakeDirs(absl::string_view path, uint32_t mode) override {
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> dir =
        OpenBeneath(root_.get(), "", O_PATH | O_DIRECTORY, "mkdir", "");
    if (!dir.ok()) return dir.status();
    std::string done;
    for (absl::string_view name : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      done = JoinPath(done, name);
      absl::StatusOr<UniqueFd> child = MakeOneDir(dir->get(), name, mode, done);
      if (!child.ok()) return child.status();
      dir = *std::move(child);
    }
    return absl::OkStatus();
  }

  absl::Status Remove(absl::string_view path) override {
    if (absl::Status s = ValidateNonRootPath(path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> parent = OpenParent(path, "remove");
    if (!parent.ok()) return parent.status();
    const std::string name(Basename(path));
    // unlinkat without AT_REMOVEDIR refuses a directory with EISDIR; no stat (and no
    // race between stat and unlink) needed.
    if (unlinkat(parent->get(), name.c_str(), 0) == 0) return absl::OkStatus();
    if (errno != EISDIR) return ErrnoToStatus(errno, "remove", path);
    if (unlinkat(parent->get(), name.c_str(), AT_REMOVEDIR) == 0) return absl::OkStatus();
    return ErrnoToStatus(errno, "remove", path);
  }

  absl::Status SetModeAndMtime(absl::string_view path, uint32_t mode,
                               int64_t mtime_ns) override {
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    const struct timespec times[2] = {{0, UTIME_OMIT},
                                      {FloorDiv(mtime_ns), FloorMod(mtime_ns)}};
    if (path.empty()) return SetRootModeAndMtime(mode & 07777, times);
    absl::StatusOr<UniqueFd> parent = OpenParent(path, "set mode");
    if (!parent.ok()) return parent.status();
    const std::string name(Basename(path));
    if (absl::Status s = ChmodNoFollow(parent->get(), name, mode & 07777, path); !s.ok()) {
      return s;
    }
    if (utimensat(parent->get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoToStatus(errno, "set mtime", path);
    }
    return absl::OkStatus();
  }

  absl::Status CreateSymlink(absl::string_view target, absl::string_view path) override {
    if (absl::Status s = ValidateNonRootPath(path); !s.ok()) return s;
    if (absl::Status s = ValidateSymlinkTarget(target, path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> parent = OpenParent(path, "symlink");
    if (!parent.ok()) return parent.status();
    const std::string t(target), name(Basename(path));
    if (symlinkat(t.c_str(), parent->get(), name.c_str()) != 0) {
      return ErrnoToStatus(errno, "symlink", path);
    }
    return absl::OkStatus();
  }

  absl::Status SetOwner(absl::string_view path, uint32_t uid, uint32_t gid) override {
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    if (absl::Status s = ValidateOwner(uid, gid, path); !s.ok()) return s;
    // The root through its own O_PATH descriptor; anything else by name in its confined
    // parent, the final symlink itself rather than its target.
    UniqueFd parent;
    std::string name;
    int flags = AT_EMPTY_PATH;
    if (!path.empty()) {
      absl::StatusOr<UniqueFd> dir = OpenParent(path, "chown");
      if (!dir.ok()) return dir.status();
      parent = *std::move(dir);
      name = std::string(Basename(path));
      flags = AT_SYMLINK_NOFOLLOW;
    }
    const int dirfd = path.empty() ? root_.get() : parent.get();
    while (fchownat(dirfd, name.c_str(), uid, gid, flags) != 0) {
      if (errno != EINTR) return ErrnoToStatus(errno, "chown", path);
    }
    return absl::OkStatus();
  }

  absl::Status Link(absl::string_view existing, absl::string_view new_path) override {
    if (absl::Status s = ValidateNonRootPath(existing); !s.ok()) return s;
    if (absl::Status s = ValidateNonRootPath(new_path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> from_dir = OpenParent(existing, "link");
    if (!from_dir.ok()) return from_dir.status();
    // O_PATH|O_NOFOLLOW: the entry itself, a symlink included, and nothing opened for
    // I/O, so a FIFO cannot block.
    absl::StatusOr<UniqueFd> file = OpenBeneath(from_dir->get(), Basename(existing),
                                                O_PATH | O_NOFOLLOW, "link", existing);
    if (!file.ok()) return file.status();
    struct stat st;
    if (absl::Status s = Fstat(file->get(), &st, "link", existing); !s.ok()) return s;
    if (absl::Status s = CheckLinkable(TypeOf(st.st_mode), existing); !s.ok()) return s;
    absl::StatusOr<UniqueFd> to_dir = OpenParent(new_path, "link");
    if (!to_dir.ok()) return to_dir.status();
    // Links exactly the inode checked above, whatever is renamed meanwhile: through the
    // descriptor's /proc link (linkat with AT_EMPTY_PATH would too, but only with
    // CAP_DAC_READ_SEARCH). The new name itself is never followed.
    const std::string proc = absl::StrCat("/proc/self/fd/", file->get());
    const std::string name(Basename(new_path));
    while (linkat(AT_FDCWD, proc.c_str(), to_dir->get(), name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      if (errno != EINTR) return LinkErrnoToStatus(errno, existing, new_path);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SpaceInfo> FreeSpace() override {
    struct statvfs vfs;
    if (fstatvfs(root_.get(), &vfs) != 0) return ErrnoToStatus(errno, "statvfs", "");
    SpaceInfo info;
    info.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    info.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return info;
  }

 private:
  static time_t FloorDiv(int64_t ns) {
    return static_cast<time_t>(ns >= 0 ? ns / 1000000000 : -((-ns - 1) / 1000000000) - 1);
  }
  static long FloorMod(int64_t ns) {
    return static_cast<long>(ns - static_cast<int64_t>(FloorDiv(ns)) * 1000000000);
  }

  // An O_PATH descriptor of the directory holding `path` (which is not "").
  absl::StatusOr<UniqueFd> OpenParent(absl::string_view path, absl::string_view op) {
    return OpenBeneath(root_.get(), Dirname(path), O_PATH | O_DIRECTORY, op, path);
  }

  // `create`: O_CREAT (mode 0600) when the lstat finds nothing; never O_EXCL or
  // O_TRUNC, so concurrent creators all end up with the same file.
  absl::StatusOr<UniqueFd> OpenRegular(absl::string_view path, int access,
                                       absl::string_view op, bool create = false) {
    if (path.empty()) return CheckRegularFile(FileType::kDirectory, op, path);
    if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
    absl::StatusOr<UniqueFd> parent = OpenParent(path, op);
    if (!parent.ok()) return parent.status();
    const absl::string_view name = Basename(path);
    struct stat st;
    absl::Status found = LstatAt(parent->get(), name, &st, op, path);
    const bool absent = create && absl::IsNotFound(found);
    if (!absent) {
      if (!found.ok()) return found;
      if (absl::Status s = CheckRegularFile(TypeOf(st.st_mode), op, path); !s.ok()) return s;
    }
    // Checked again on the descriptor: the entry may have been swapped since the lstat.
    // O_CREAT also when it existed: it may have been removed since the lstat.
    absl::StatusOr<UniqueFd> fd = OpenBeneath(
        parent->get(), name,
        access | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | (create ? O_CREAT : 0), op, path,
        create ? 0600 : 0);
    if (!fd.ok()) return fd.status();
    if (absl::Status s = Fstat(fd->get(), &st, op, path); !s.ok()) return s;
    if (absl::Status s = CheckRegularFile(TypeOf(st.st_mode), op, path); !s.ok()) return s;
    if (create) {
      if (absl::Status s = CheckUnshared(st.st_nlink, st.st_uid, op, path); !s.ok()) return s;
    }
    if (absl::Status s = ClearNonBlocking(fd->get(), op, path); !s.ok()) return s;
    return fd;
  }

  // mkdir of one component (OK if already a directory), returning it opened O_PATH.
  absl::StatusOr<UniqueFd> MakeOneDir(int parent, absl::string_view name, uint32_t mode,
                                      absl::string_view path) {
    const std::string n(name);
    if (mkdirat(parent, n.c_str(), mode & 07777) == 0) {
      // mkdir applied the umask; the caller asked for exactly `mode`.
      if (absl::Status s = ChmodNoFollow(parent, n, mode & 07777, path); !s.ok()) return s;
    } else if (errno != EEXIST) {
      return ErrnoToStatus(errno, "mkdir", path);
    }
    // O_DIRECTORY: an existing file gives ENOTDIR (FAILED_PRECONDITION); a symlink
    // gives ELOOP (INVALID_ARGUMENT) and is never followed.
    return OpenBeneath(parent, name, O_PATH | O_DIRECTORY, "mkdir", path);
  }

  // chmod that never follows a final symlink (symlinks have no mode of their own on
  // Linux; they are skipped).
  static absl::Status ChmodNoFollow(int parent, const std::string& name, uint32_t mode,
                                    absl::string_view path) {
    if (syscall(kSysFchmodat2, parent, name.c_str(), mode, AT_SYMLINK_NOFOLLOW) == 0) {
      return absl::OkStatus();
    }
    if (errno == EOPNOTSUPP) return absl::OkStatus();  // A symlink.
    if (errno != ENOSYS) return ErrnoToStatus(errno, "chmod", path);
    return ChmodViaProc(parent, name, mode, path);
  }

  // Kernels before 6.6: chmod the exact inode through an O_PATH descriptor's /proc
  // link (what glibc does for fchmodat(AT_SYMLINK_NOFOLLOW)); never follows a symlink.
  static absl::Status ChmodViaProc(int parent, const std::string& name, uint32_t mode,
                                   absl::string_view path) {
    absl::StatusOr<UniqueFd> fd = OpenBeneath(parent, name, O_PATH | O_NOFOLLOW, "chmod", path);
    if (!fd.ok()) return fd.status();
    struct stat st;
    if (absl::Status s = Fstat(fd->get(), &st, "chmod", path); !s.ok()) return s;
    if (S_ISLNK(st.st_mode)) return absl::OkStatus();
    const std::string proc = absl::StrCat("/proc/self/fd/", fd->get());
    if (chmod(proc.c_str(), mode) != 0) return ErrnoToStatus(errno, "chmod", path);
    return absl::OkStatus();
  }

  absl::Status SetRootModeAndMtime(uint32_t mode, const struct timespec times[2]) {
    absl::StatusOr<UniqueFd> dir =
        OpenBeneath(root_.get(), "", O_RDONLY | O_DIRECTORY, "set mode", "");
    if (!dir.ok()) return dir.status();
    if (fchmod(dir->get(), mode) != 0) return ErrnoToStatus(errno, "chmod", "");
    if (futimens(dir->get(), times) != 0) return ErrnoToStatus(errno, "set mtime", "");
    return absl::OkStatus();
  }

  static absl::Status SyncFs(int fd) {
    while (syncfs(fd) != 0) {
      if (errno != EINTR) return ErrnoToStatus(errno, "syncfs", "");
    }
    return absl::OkStatus();
  }

  const UniqueFd root_;  // O_PATH|O_DIRECTORY; every lookup starts here.
  // The root opened for reading (syncfs refuses O_PATH descriptors), or invalid. Kept
  // open so syncfs reports every write-back error since this FileSystem was made, not
  // only those after the call began (errors are sampled per open file, see syncfs(2)).
  const UniqueFd sync_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FileSystem>> NewPosixFileSystem(const std::string& root_dir) {
  int fd;
  do {
    fd = open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoToStatus(errno, "open root", root_dir);
  UniqueFd root(fd);
  // Best effort: without read permission on the root, SyncFileSystem opens it per call.
  absl::StatusOr<UniqueFd> sync =
      OpenBeneath(root.get(), "", O_RDONLY | O_DIRECTORY, "syncfs", "");
  return std::unique_ptr<FileSystem>(new PosixFileSystem(
      std::move(root), sync.ok() ? *std::move(sync) : UniqueFd()));
}

}  // namespace ferry::storage
