// storage_bench: ferry's storage interface against the raw loops it wraps, in one run.
//
// For each operation it times ferry's FileSystem (the POSIX backend) and a baseline doing
// the same work directly (syscalls, or `find` as a child process), interleaved over
// --rounds rounds with the order inside each round rotating, and prints the median rate
// of each and the ratio ferry / baseline. Timings on these VMs swing up to 5x between
// runs, so only the ratios of one invocation mean anything. Nothing here judges a ratio
// (no timed assertions); the target of >= 0.95x is printed next to them.
//
// Metrics (README.md says what each baseline does):
//   walk_vs_syscalls  FileSystem::Walk of the tree vs opendir/readdir + sort + fstatat.
//   walk_vs_find      the same ferry walks vs `find DIR -printf ''`.
//   read_256k/_1m     OpenForRead + ReadAt in 256 KiB / 1 MiB blocks vs open + pread.
//   write_256k        CreateTemp + WriteAt of 256 KiB pieces + Sync + Close vs
//                     open(O_CREAT|O_EXCL) + pwrite + fsync + close.
//
// The fixture (a tree of --files empty files, 1000 per directory, and one --bytes file)
// is created and removed through the FileSystem, in a fresh mkdtemp directory under
// --dir that is removed at exit, also after an error or SIGINT/SIGTERM. Direct file
// syscalls appear only in the baselines (they are the point) and in the harness's own
// bookkeeping: mkdtemp/rmdir of the scratch directory, statfs for the report, and
// posix_fadvise for --cold.
//
// Output: progress on stderr; on stdout a table, then one line per metric
//   RATIO name=<metric> ferry=<rate> baseline=<rate> ratio=<ferry/baseline>
// Exit status: 0 when every pass succeeded and the scratch directory was removed, 1 on
// any failure, 2 for bad flags, 130 when interrupted.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "storage/file_system.h"
#include "storage/posix_file_system.h"

extern char** environ;

ABSL_FLAG(std::string, dir, "",
          "Parent of the scratch directory (a fresh storage_bench.XXXXXX inside it, "
          "removed at exit). Default: $TEST_TMPDIR, else $TMPDIR, else /tmp.");
ABSL_FLAG(int64_t, files, 100000, "Files in the walk tree, 1000 per directory.");
ABSL_FLAG(int64_t, bytes, int64_t{1} << 30, "Size of the file read and written.");
ABSL_FLAG(int32_t, rounds, 5, "Interleaved rounds; the medians are reported.");
ABSL_FLAG(bool, quick, false,
          "Small sizes for CI: 5000 files, 64 MiB, 2 rounds (overrides --files, --bytes "
          "and --rounds).");
ABSL_FLAG(bool, cold, false,
          "Read cold: posix_fadvise(POSIX_FADV_DONTNEED) on the file before every read "
          "pass, ferry's and the baseline's alike. Default: warm (page cache).");
ABSL_FLAG(bool, verbose, false, "Print every timed pass (variant, seconds, rate) on stderr.");

namespace ferry::bench {
namespace {

using storage::CommitMode;
using storage::DirectoryWalker;
using storage::FileInfo;
using storage::FileSystem;
using storage::NewPosixFileSystem;
using storage::ReadableFile;
using storage::SpaceInfo;
using storage::TempFile;
using storage::WritableFile;

constexpr int64_t kFilesPerDir = 1000;
constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;
constexpr size_t kWritePiece = 256 * kKiB;  // data-path.md: larger pieces are slower.
constexpr size_t kPatternBytes = 1 * kMiB;  // A multiple of every block size used.
constexpr double kTarget = 0.95;
constexpr char kTreeDir[] = "tree";
constexpr char kDataFile[] = "data";
constexpr char kWriteDir[] = "write";

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnSignal(int) { g_interrupted = 1; }

absl::Status CheckInterrupted() {
  if (g_interrupted) return absl::CancelledError("interrupted");
  return absl::OkStatus();
}

absl::Status Errno(int err, absl::string_view op, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(op, " ", path));
}

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time (user + system) of the calling thread.
double ThreadCpuSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// What one timed section took: wall-clock seconds, and CPU seconds (user + system) of
// the thread, plus of the child process for `find`. CPU time hardly changes when other
// processes compete for the two cores; wall time does.
struct Timing {
  double wall = 0;
  double cpu = 0;
};

class Stopwatch {
 public:
  Stopwatch() : wall_(Clock::now()), cpu_(ThreadCpuSeconds()) {}
  Timing Elapsed() const { return {SecondsSince(wall_), ThreadCpuSeconds() - cpu_}; }

 private:
  Clock::time_point wall_;
  double cpu_;
};

// Fills 1 MiB with xorshift bytes, so no layer can shortcut zeros or repeats.
std::string MakePattern() {
  std::string pattern(kPatternBytes, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : pattern) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x >> 56);
  }
  return pattern;
}

// The piece of the pattern written at `offset` (a multiple of the piece size).
absl::string_view PatternAt(const std::string& pattern, uint64_t offset, uint64_t n) {
  return absl::string_view(pattern.data() + offset % pattern.size(), n);
}

absl::Status CheckCount(absl::string_view what, uint64_t got, uint64_t want) {
  if (got == want) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", got, " instead of ", want));
}

// --- Fixture, through the FileSystem ----------------------------------------------------

// A new empty file at `path`, created the way ferry creates files: temp + rename.
absl::Status CreateEmptyFile(FileSystem& fs, const std::string& path) {
  absl::StatusOr<TempFile> temp = fs.CreateTemp(path);
  if (!temp.ok()) return temp.status();
  if (absl::Status s = temp->file->Close(); !s.ok()) return s;
  return fs.Rename(temp->path, path, CommitMode::kNoReplace);
}

// `files` files spread over ceil(files / 1000) directories below kTreeDir. Returns the
// number of entries a walk of kTreeDir yields (directories and files).
absl::StatusOr<uint64_t> CreateTree(FileSystem& fs, int64_t files) {
  const int64_t dirs = (files + kFilesPerDir - 1) / kFilesPerDir;
  for (int64_t d = 0; d < dirs; ++d) {
    if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
    const std::string dir = absl::StrFormat("%s/d%04d", kTreeDir, d);
    if (absl::Status s = fs.MakeDirs(dir, 0755); !s.ok()) return s;
    const int64_t here = files / dirs + (d < files % dirs ? 1 : 0);
    for (int64_t f = 0; f < here; ++f) {
      absl::Status s = CreateEmptyFile(fs, absl::StrFormat("%s/f%06d", dir, f));
      if (!s.ok()) return s;
    }
  }
  return static_cast<uint64_t>(dirs + files);
}

// Writes `bytes` of the pattern to `file` in kWritePiece pieces, then Sync and Close.
absl::Status WritePattern(WritableFile& file, const std::string& pattern, uint64_t bytes) {
  for (uint64_t off = 0; off < bytes; off += kWritePiece) {
    const uint64_t n = std::min<uint64_t>(kWritePiece, bytes - off);
    if (absl::Status s = file.WriteAt(off, PatternAt(pattern, off, n)); !s.ok()) return s;
  }
  if (absl::Status s = file.Sync(); !s.ok()) return s;
  return file.Close();
}

absl::Status CreateDataFile(FileSystem& fs, const std::string& pattern, uint64_t bytes) {
  absl::StatusOr<TempFile> temp = fs.CreateTemp(kDataFile);
  if (!temp.ok()) return temp.status();
  if (absl::Status s = WritePattern(*temp->file, pattern, bytes); !s.ok()) return s;
  return fs.Rename(temp->path, kDataFile, CommitMode::kNoReplace);
}

// Removes everything below the scratch directory through the FileSystem (children before
// parents: the reverse of a pre-order walk), then the directory itself.
absl::Status RemoveScratch(const std::string& root) {
  absl::StatusOr<std::unique_ptr<FileSystem>> fs = NewPosixFileSystem(root);
  if (!fs.ok()) return fs.status();
  std::vector<std::string> paths;
  {
    absl::StatusOr<std::unique_ptr<DirectoryWalker>> walker = (*fs)->Walk("", "");
    if (!walker.ok()) return walker.status();
    FileInfo entry;
    for (;;) {
      absl::StatusOr<bool> more = (*walker)->Next(&entry);
      if (!more.ok()) return more.status();
      if (!*more) break;
      paths.push_back(std::move(entry.path));
    }
  }
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    if (absl::Status s = (*fs)->Remove(*it); !s.ok()) return s;
  }
  fs->reset();
  if (rmdir(root.c_str()) != 0) return Errno(errno, "rmdir", root);
  return absl::OkStatus();
}

// --- Walk -------------------------------------------------------------------------------

absl::Status FerryWalk(FileSystem& fs, uint64_t expected) {
  absl::StatusOr<std::unique_ptr<DirectoryWalker>> walker = fs.Walk(kTreeDir, "");
  if (!walker.ok()) return walker.status();
  FileInfo entry;
  uint64_t count = 0;
  for (;;) {
    absl::StatusOr<bool> more = (*walker)->Next(&entry);
    if (!more.ok()) return more.status();
    if (!*more) break;
    ++count;
  }
  return CheckCount("ferry walk entries", count, expected);
}

// Where the syscall walk's results end up, so none of its work is dead code.
volatile uint64_t g_walk_sink = 0;

struct SyscallWalkResult {
  uint64_t entries = 0;
  uint64_t size_sum = 0;
  uint64_t path_bytes = 0;
};

// The baseline: lists the directory open as `fd` (taken over) with readdir, sorts the
// names, lstats each (fstatat AT_SYMLINK_NOFOLLOW) and recurses into directories
// (openat O_DIRECTORY|O_NOFOLLOW), pre-order like ferry. `path` is the entry's path
// relative to the start, kept in one reused buffer.
absl::Status SyscallWalkDir(int fd, std::string* path, SyscallWalkResult* result) {
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    const int err = errno;
    close(fd);
    return Errno(err, "fdopendir", *path);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, closedir);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const struct dirent* ent = readdir(dir);
    if (ent == nullptr) break;
    const absl::string_view name(ent->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return Errno(errno, "readdir", *path);
  std::sort(names.begin(), names.end());
  const size_t base = path->size();
  for (const std::string& name : names) {
    struct stat st;
    if (fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // Vanished since listing, as ferry does.
      return Errno(errno, "fstatat", name);
    }
    path->resize(base);
    if (base != 0) path->push_back('/');
    path->append(name);
    ++result->entries;
    result->size_sum += static_cast<uint64_t>(st.st_size);
    result->path_bytes += path->size();
    if (S_ISDIR(st.st_mode)) {
      const int child =
          openat(dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) return Errno(errno, "openat", *path);
      if (absl::Status s = SyscallWalkDir(child, path, result); !s.ok()) return s;
    }
  }
  path->resize(base);
  return absl::OkStatus();
}

absl::Status SyscallWalk(const std::string& tree, uint64_t expected) {
  const int fd = open(tree.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", tree);
  std::string path;
  SyscallWalkResult result;
  if (absl::Status s = SyscallWalkDir(fd, &path, &result); !s.ok()) return s;
  g_walk_sink = result.size_sum + result.path_bytes;
  return CheckCount("syscall walk entries", result.entries, expected);
}

// `find DIR -printf ''` as a child process, from spawn to exit; adds the child's CPU
// seconds to *child_cpu.
absl::Status FindWalk(const std::string& tree, double* child_cpu) {
  std::string args[] = {"find", tree, "-printf", ""};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), nullptr};
  pid_t pid;
  if (const int err = posix_spawnp(&pid, "find", nullptr, nullptr, argv, environ);
      err != 0) {
    return Errno(err, "spawn", "find");
  }
  int status = 0;
  struct rusage usage = {};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return Errno(errno, "wait4", "find");
  }
  *child_cpu += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("find ", tree, " failed (wait status ", status, ")"));
}

// --- Read -------------------------------------------------------------------------------

// For --cold: drops the file's pages from the page cache (clean pages only; the file was
// synced when created).
absl::Status DropCache(const std::string& file) {
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", file);
  const int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  if (err != 0) return Errno(err, "posix_fadvise", file);
  return absl::OkStatus();
}

absl::Status FerryRead(FileSystem& fs, char* buf, size_t block, uint64_t expected) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs.OpenForRead(kDataFile);
  if (!file.ok()) return file.status();
  uint64_t offset = 0;
  for (;;) {
    absl::StatusOr<size_t> got = (*file)->ReadAt(offset, buf, block);
    if (!got.ok()) return got.status();
    offset += *got;
    if (*got < block) break;  // End of file.
  }
  return CheckCount("ferry read bytes", offset, expected);
}

absl::Status SyscallRead(const std::string& file, char* buf, size_t block,
                         uint64_t expected) {
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "open", file);
  uint64_t offset = 0;
  for (;;) {
    const ssize_t got = pread(fd, buf, block, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int err = errno;
      close(fd);
      return Errno(err, "pread", file);
    }
    if (got == 0) break;
    offset += static_cast<uint64_t>(got);
  }
  close(fd);
  return CheckCount("syscall read bytes", offset, expected);
}

// --- Write ------------------------------------------------------------------------------

// Removes a written file and fsyncs its directory, untimed: the journal commit that frees
// its blocks (with discards on a `discard` mount) then happens here, not inside the next
// timed write, whichever variant that is.
absl::Status RemoveWritten(FileSystem& fs, const std::string& path) {
  if (absl::Status s = fs.Remove(path); !s.ok()) return s;
  return fs.SyncDir(kWriteDir);
}

// Times CreateTemp + WriteAt + Sync + Close; the temp file is removed afterwards, untimed.
absl::StatusOr<Timing> FerryWrite(FileSystem& fs, const std::string& pattern,
                                  uint64_t bytes) {
  const Stopwatch stopwatch;
  absl::StatusOr<TempFile> temp = fs.CreateTemp(absl::StrCat(kWriteDir, "/ferry.out"));
  if (!temp.ok()) return temp.status();
  if (absl::Status s = WritePattern(*temp->file, pattern, bytes); !s.ok()) return s;
  const Timing timing = stopwatch.Elapsed();
  if (absl::Status s = RemoveWritten(fs, temp->path); !s.ok()) return s;
  return timing;
}

// Times open(O_CREAT|O_EXCL, 0600, as CreateTemp) + pwrite + fsync + close; the file is
// removed afterwards through the FileSystem, untimed.
absl::StatusOr<Timing> SyscallWrite(FileSystem& fs, const std::string& root,
                                    const std::string& pattern, uint64_t bytes) {
  const std::string rel = absl::StrCat(kWriteDir, "/syscall.out");
  const std::string file = absl::StrCat(root, "/", rel);
  const Stopwatch stopwatch;
  const int fd =
      open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(errno, "open", file);
  for (uint64_t off = 0; off < bytes;) {
    const uint64_t n = std::min<uint64_t>(kWritePiece, bytes - off);
    const absl::string_view piece = PatternAt(pattern, off, n);
    const ssize_t put = pwrite(fd, piece.data(), piece.size(), static_cast<off_t>(off));
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) {
      const int err = errno;
      close(fd);
      return Errno(err, "pwrite", file);
    }
    off += static_cast<uint64_t>(put);  // A short write continues mid-piece.
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return Errno(err, "fsync", file);
  }
  if (close(fd) != 0) return Errno(errno, "close", file);
  const Timing timing = stopwatch.Elapsed();
  if (absl::Status s = RemoveWritten(fs, rel); !s.ok()) return s;
  return timing;
}

// --- Rounds and report ------------------------------------------------------------------

// One timed thing. `run` returns the Timing of its timed section.
using TimedRun = std::function<absl::StatusOr<Timing>()>;
struct Variant {
  std::string name;
  double work;  // Entries or MiB per run.
  TimedRun run;
  std::vector<double> rates;      // work / wall seconds, one per round.
  std::vector<double> cpu_rates;  // work / CPU seconds, one per round.
};

// Times `fn` as a whole.
TimedRun TimeAll(std::function<absl::Status()> fn) {
  return [fn = std::move(fn)]() -> absl::StatusOr<Timing> {
    const Stopwatch stopwatch;
    if (absl::Status s = fn(); !s.ok()) return s;
    return stopwatch.Elapsed();
  };
}

// Runs `before` untimed (may be empty), then times `fn`.
TimedRun TimeAfter(std::function<absl::Status()> before, std::function<absl::Status()> fn) {
  return [before = std::move(before), timed = TimeAll(std::move(fn))]() {
    if (before) {
      if (absl::Status s = before(); !s.ok()) return absl::StatusOr<Timing>(s);
    }
    return timed();
  };
}

absl::Status Failed(const Variant& v, const absl::Status& s) {
  if (absl::IsCancelled(s)) return s;
  return absl::Status(s.code(), absl::StrCat(v.name, ": ", s.message()));
}

struct Metric {
  std::string name;
  std::string unit;
  size_t ferry;     // Index into the variants.
  size_t baseline;  // Index into the variants.
  std::string baseline_is;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string FormatRate(double rate, absl::string_view unit) {
  return unit == "entries/s" ? absl::StrFormat("%.0f", rate) : absl::StrFormat("%.1f", rate);
}

// Per metric: the medians and their ratio (the RATIO line), the ratio of the best
// rounds (noise here only ever slows a pass down), the ratio of the medians of CPU-time
// rates, and the range of the per-round ratios.
void PrintReport(const std::vector<Variant>& variants, const std::vector<Metric>& metrics) {
  absl::PrintF("%-17s %-10s %11s %11s %6s %6s %6s %-11s %-6s %s\n", "metric", "unit",
               "ferry", "baseline", "ratio", "best", "cpu", "per-round", "target",
               "baseline is");
  std::vector<std::string> lines;
  for (const Metric& m : metrics) {
    const std::vector<double>& f = variants[m.ferry].rates;
    const std::vector<double>& b = variants[m.baseline].rates;
    const double ferry = Median(f);
    const double baseline = Median(b);
    const double ratio = ferry / baseline;
    const double best =
        *std::max_element(f.begin(), f.end()) / *std::max_element(b.begin(), b.end());
    const double cpu =
        Median(variants[m.ferry].cpu_rates) / Median(variants[m.baseline].cpu_rates);
    double lo = f[0] / b[0], hi = lo;
    for (size_t r = 1; r < f.size(); ++r) {
      lo = std::min(lo, f[r] / b[r]);
      hi = std::max(hi, f[r] / b[r]);
    }
    absl::PrintF("%-17s %-10s %11s %11s %6.3f %6.3f %6.3f %-11s %-6s %s\n", m.name,
                 m.unit, FormatRate(ferry, m.unit), FormatRate(baseline, m.unit), ratio, best,
                 cpu,
                 absl::StrFormat("%.2f-%.2f", lo, hi), ratio >= kTarget ? "ok" : "below",
                 m.baseline_is);
    lines.push_back(absl::StrFormat("RATIO name=%s ferry=%.1f baseline=%.1f ratio=%.3f",
                                    m.name, ferry, baseline, ratio));
  }
  absl::PrintF("\n");
  for (const std::string& line : lines) absl::PrintF("%s\n", line);
}

std::string FileSystemType(const std::string& dir) {
  struct statfs sfs;
  if (statfs(dir.c_str(), &sfs) != 0) return "unknown";
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case EXT4_SUPER_MAGIC: return "ext4";
    case TMPFS_MAGIC: return "tmpfs (fsync and --cold mean nothing here)";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: return absl::StrFormat("f_type 0x%x", static_cast<unsigned long>(sfs.f_type));
  }
}

struct Options {
  int64_t files;
  uint64_t bytes;
  int rounds;
  bool cold;
  bool verbose;
};

absl::Status Run(const std::string& root, const Options& options) {
  absl::StatusOr<std::unique_ptr<FileSystem>> opened = NewPosixFileSystem(root);
  if (!opened.ok()) return opened.status();
  FileSystem& fs = **opened;

  absl::StatusOr<SpaceInfo> space = fs.FreeSpace();
  if (!space.ok()) return space.status();
  const uint64_t needed = 2 * options.bytes + 256 * kMiB;  // Data file + one written file.
  if (space->available_bytes < needed) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "%s has %d MiB free; this run needs %d MiB", root, space->available_bytes / kMiB,
        needed / kMiB));
  }

  Clock::time_point start = Clock::now();
  absl::StatusOr<uint64_t> entries = CreateTree(fs, options.files);
  if (!entries.ok()) return entries.status();
  absl::FPrintF(stderr, "setup: %d files, %d walk entries: %.1f s\n", options.files,
                *entries, SecondsSince(start));
  start = Clock::now();
  const std::string pattern = MakePattern();
  if (absl::Status s = CreateDataFile(fs, pattern, options.bytes); !s.ok()) return s;
  if (absl::Status s = fs.MakeDirs(kWriteDir, 0755); !s.ok()) return s;
  absl::FPrintF(stderr, "setup: %d MiB data file: %.1f s\n", options.bytes / kMiB,
                SecondsSince(start));

  const std::string tree = absl::StrCat(root, "/", kTreeDir);
  const std::string data = absl::StrCat(root, "/", kDataFile);
  const uint64_t n = *entries;
  const uint64_t bytes = options.bytes;
  const double mib = static_cast<double>(bytes) / kMiB;
  std::vector<char> buffer(kMiB, 1);  // Touched: no page faults inside a timed read.
  char* buf = buffer.data();
  std::function<absl::Status()> before_read;
  if (options.cold) before_read = [data] { return DropCache(data); };

  std::vector<Variant> variants;
  auto add = [&variants](std::string name, double work, TimedRun run) {
    variants.push_back(Variant{std::move(name), work, std::move(run), {}, {}});
    return variants.size() - 1;
  };
  // Groups run one after the other in each round; inside a group the order rotates, so
  // each variant goes first as often as the other (with an even --rounds).
  std::vector<std::vector<size_t>> groups;
  std::vector<Metric> metrics;

  const size_t ferry_walk =
      add("ferry walk", n, TimeAll([&fs, n] { return FerryWalk(fs, n); }));
  const size_t syscall_walk =
      add("syscall walk", n, TimeAll([tree, n] { return SyscallWalk(tree, n); }));
  const size_t find_walk = add("find", n, [tree]() -> absl::StatusOr<Timing> {
    const Stopwatch stopwatch;
    double child_cpu = 0;
    if (absl::Status s = FindWalk(tree, &child_cpu); !s.ok()) return s;
    Timing timing = stopwatch.Elapsed();
    timing.cpu += child_cpu;
    return timing;
  });
  groups.push_back({ferry_walk, syscall_walk, find_walk});
  metrics.push_back({"walk_vs_syscalls", "entries/s", ferry_walk, syscall_walk,
                     "readdir, sort, fstatat(AT_SYMLINK_NOFOLLOW), openat; recursive"});
  metrics.push_back({"walk_vs_find", "entries/s", ferry_walk, find_walk,
                     "find DIR -printf '' (child process, unsorted)"});

  for (const size_t block : {256 * kKiB, 1 * kMiB}) {
    const std::string label = block == kMiB ? "1m" : absl::StrCat(block / kKiB, "k");
    const size_t ferry_read = add(
        "ferry read " + label, mib,
        TimeAfter(before_read, [&fs, buf, block, bytes] {
          return FerryRead(fs, buf, block, bytes);
        }));
    const size_t syscall_read = add(
        "syscall read " + label, mib,
        TimeAfter(before_read, [data, buf, block, bytes] {
          return SyscallRead(data, buf, block, bytes);
        }));
    groups.push_back({ferry_read, syscall_read});
    metrics.push_back({"read_" + label, "MiB/s", ferry_read, syscall_read,
                       absl::StrFormat("open, pread loop of %s blocks, close", label)});
  }

  const size_t ferry_write =
      add("ferry write", mib, [&fs, &pattern, bytes] { return FerryWrite(fs, pattern, bytes); });
  const size_t syscall_write = add("syscall write", mib, [&fs, root, &pattern, bytes] {
    return SyscallWrite(fs, root, pattern, bytes);
  });
  groups.push_back({ferry_write, syscall_write});
  metrics.push_back({"write_256k", "MiB/s", ferry_write, syscall_write,
                     "open(O_CREAT|O_EXCL), pwrite 256k pieces, fsync, close"});

  // One untimed pass of every variant: each then starts from the same cache state, the
  // first fsync (which commits the setup's metadata) is not timed, and any error shows up
  // before the long part.
  for (const Variant& v : variants) {
    if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
    if (absl::StatusOr<Timing> s = v.run(); !s.ok()) return Failed(v, s.status());
  }

  for (int round = 0; round < options.rounds; ++round) {
    start = Clock::now();
    for (const std::vector<size_t>& group : groups) {
      for (size_t k = 0; k < group.size(); ++k) {
        if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
        Variant& v = variants[group[(k + round) % group.size()]];
        absl::StatusOr<Timing> timing = v.run();
        if (!timing.ok()) return Failed(v, timing.status());
        v.rates.push_back(v.work / timing->wall);
        v.cpu_rates.push_back(v.work / std::max(timing->cpu, 1e-9));
        if (options.verbose) {
          absl::FPrintF(stderr, "  round %d %-18s %8.3f s %12.1f /s  cpu %8.3f s\n",
                        round + 1, v.name, timing->wall, v.rates.back(), timing->cpu);
        }
      }
    }
    absl::FPrintF(stderr, "round %d/%d: %.1f s\n", round + 1, options.rounds,
                  SecondsSince(start));
  }

#ifdef __OPTIMIZE__
  const char* build = "optimized build";
#else
  const char* build = "UNOPTIMIZED build (use bazel -c opt for numbers worth quoting)";
#endif
  absl::PrintF(
      "storage_bench: %s on %s; %d files in %d dirs (%d walk entries); %d MiB file; "
      "reads %s; %d rounds, medians; %s\n\n",
      root, FileSystemType(root), options.files,
      (options.files + kFilesPerDir - 1) / kFilesPerDir, n, bytes / kMiB,
      options.cold ? "cold (POSIX_FADV_DONTNEED before each pass)" : "warm (page cache)",
      options.rounds, build);
  PrintReport(variants, metrics);
  return absl::OkStatus();
}

std::string ScratchParent() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  for (const char* env : {"TEST_TMPDIR", "TMPDIR"}) {
    if (!dir.empty()) break;
    if (const char* value = std::getenv(env); value != nullptr) dir = value;
  }
  return dir.empty() ? "/tmp" : dir;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Times ferry's storage interface against raw syscall loops (and find) in one run; "
      "prints medians and ratios.\nUsage: storage_bench [--quick] [--dir=DIR] "
      "[--files=N] [--bytes=N] [--rounds=N] [--cold] [--verbose]");
  absl::ParseCommandLine(argc, argv);
  Options options{absl::GetFlag(FLAGS_files),
                  static_cast<uint64_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_bytes))),
                  absl::GetFlag(FLAGS_rounds), absl::GetFlag(FLAGS_cold),
                  absl::GetFlag(FLAGS_verbose)};
  if (absl::GetFlag(FLAGS_quick)) {
    options.files = 5000;
    options.bytes = 64 * kMiB;
    options.rounds = 2;
  }
  if (options.files < 1 || options.bytes < kMiB || options.rounds < 1) {
    absl::FPrintF(stderr, "storage_bench: need --files >= 1, --bytes >= 1 MiB, --rounds >= 1\n");
    return 2;
  }

  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::string root = absl::StrCat(ScratchParent(), "/storage_bench.XXXXXX");
  if (mkdtemp(root.data()) == nullptr) {
    absl::FPrintF(stderr, "storage_bench: mkdtemp %s: %s\n", root, strerror(errno));
    return 1;
  }
  int exit_code = 0;
  if (absl::Status s = Run(root, options); !s.ok()) {
    absl::FPrintF(stderr, "storage_bench: %s\n", s.ToString());
    exit_code = absl::IsCancelled(s) ? 130 : 1;
  }
  if (absl::Status s = RemoveScratch(root); !s.ok()) {
    absl::FPrintF(stderr, "storage_bench: removing %s: %s\n", root, s.ToString());
    if (exit_code == 0) exit_code = 1;
  }
  return exit_code;
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) { return ferry::bench::Main(argc, argv); }
