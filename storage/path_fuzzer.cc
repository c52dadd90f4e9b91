// libFuzzer target for the path resolver: ValidateRelativePath, then resolution through
// the POSIX backend (openat2 beneath a root) of the same bytes as a path and as a walk
// cursor. It aborts (a finding) when:
//  - ValidateRelativePath accepts a path an independent, obviously-correct oracle
//    rejects, or the other way round;
//  - any operation succeeds on a path the validator rejects;
//  - Stat or OpenForRead reaches an inode that is not in the root's tree (an escape),
//    or a read returns the outside sentinel's bytes;
//  - anything changes the outside sentinel (content, mtime) or its directory.
// The root (made once per process under $TEST_TMPDIR or /tmp) holds a file, a
// directory, symlinks to "..", "/", the outside directory and itself, and a FIFO (an
// open that blocked would hang the fuzzer: a finding too).
//
// Built as a libFuzzer binary under --config=fuzz (//storage:path_fuzzer); otherwise
// //storage:path_fuzzer_test replays storage/testdata/path_corpus through the same entry
// point with path_fuzzer_replay_main.cc.
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "storage/path.h"
#include "storage/posix_file_system.h"

namespace ferry::storage {
namespace {

constexpr char kSentinel[] = "ferry-outside-sentinel";

void Check(bool ok, const char* what) {
  if (ok) return;
  fprintf(stderr, "path_fuzzer invariant violated: %s\n", what);
  abort();
}

// The definition of a valid path, written independently of path.cc.
bool OracleValid(const std::string& p) {
  if (p.empty()) return true;
  if (p.size() > 4095 || p.find('\0') != std::string::npos) return false;
  if (p.front() == '/' || p.back() == '/') return false;
  size_t start = 0;
  for (;;) {
    const size_t slash = p.find('/', start);
    const std::string c = p.substr(start, slash == std::string::npos ? slash : slash - start);
    if (c.empty() || c == "." || c == ".." || c.size() > 255) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

std::set<ino_t>* inside_inodes = nullptr;  // nftw has no user-data argument.

int AddInode(const char*, const struct stat* st, int, struct FTW*) {
  inside_inodes->insert(st->st_ino);
  return 0;
}

void WriteFile(const std::string& path, const char* data) {
  std::ofstream(path) << data;
}

struct World {
  std::string outside;
  std::unique_ptr<FileSystem> fs;
  std::set<ino_t> inodes;
  struct stat outside_dir, sentinel;
};

World* MakeWorld() {
  auto* w = new World;
  const char* tmp = getenv("TEST_TMPDIR");
  std::string base = std::string(tmp != nullptr ? tmp : "/tmp") + "/ferry-fuzz-XXXXXX";
  Check(mkdtemp(base.data()) != nullptr, "mkdtemp");
  const std::string root = base + "/root";
  w->outside = base + "/outside";
  Check(mkdir(root.c_str(), 0755) == 0 && mkdir(w->outside.c_str(), 0755) == 0, "mkdir");
  WriteFile(w->outside + "/secret", kSentinel);
  WriteFile(root + "/file", "inside");
  Check(mkdir((root + "/dir").c_str(), 0755) == 0, "mkdir dir");
  WriteFile(root + "/dir/f", "f");
  Check(symlink("..", (root + "/up").c_str()) == 0, "symlink up");
  Check(symlink("/", (root + "/abs").c_str()) == 0, "symlink abs");
  Check(symlink(w->outside.c_str(), (root + "/out").c_str()) == 0, "symlink out");
  Check(symlink("loop", (root + "/loop").c_str()) == 0, "symlink loop");
  Check(mkfifo((root + "/fifo").c_str(), 0644) == 0, "mkfifo");
  inside_inodes = &w->inodes;
  Check(nftw(root.c_str(), AddInode, 8, FTW_PHYS) == 0, "nftw");
  inside_inodes = nullptr;
  Check(stat(w->outside.c_str(), &w->outside_dir) == 0, "stat outside");
  Check(stat((w->outside + "/secret").c_str(), &w->sentinel) == 0, "stat secret");
  absl::StatusOr<std::unique_ptr<FileSystem>> fs = NewPosixFileSystem(root);
  Check(fs.ok(), "open root");
  w->fs = *std::move(fs);
  return w;
}

bool SameTimes(const struct stat& a, const struct stat& b) {
  return a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_size == b.st_size && a.st_mode == b.st_mode;
}

void CheckOutsideUntouched(const World& w) {
  struct stat dir, secret;
  Check(stat(w.outside.c_str(), &dir) == 0 && SameTimes(dir, w.outside_dir),
        "outside directory changed");
  Check(stat((w.outside + "/secret").c_str(), &secret) == 0 && SameTimes(secret, w.sentinel),
        "outside sentinel changed");
}

void ResolveAsPath(World& w, const std::string& path, bool valid) {
  absl::StatusOr<FileInfo> info = w.fs->Stat(path);
  Check(valid || !info.ok(), "Stat accepted an invalid path");
  Check(!info.ok() || w.inodes.count(info->inode) == 1, "Stat escaped the root");
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = w.fs->OpenForRead(path);
  Check(valid || !file.ok(), "OpenForRead accepted an invalid path");
  if (file.ok()) {
    absl::StatusOr<FileInfo> opened = (*file)->Stat();
    Check(opened.ok() && w.inodes.count(opened->inode) == 1, "OpenForRead escaped");
    char buf[64];
    absl::StatusOr<size_t> n = (*file)->ReadAt(0, buf, sizeof buf);
    Check(!n.ok() || std::string(buf, *n) != kSentinel, "read the outside sentinel");
  }
  absl::StatusOr<TempFile> temp = w.fs->CreateTemp(path);
  Check(valid || !temp.ok(), "CreateTemp accepted an invalid path");
  if (temp.ok()) {
    Check(temp->file->Close().ok(), "close temp");
    Check(w.fs->Stat(temp->path).ok(), "temp not inside");
    Check(w.fs->Remove(temp->path).ok(), "remove temp");
  }
}

void ResolveAsWalk(World& w, const std::string& bytes) {
  for (const std::string& cursor : {std::string(), bytes, EncodeWalkCursor(bytes)}) {
    absl::StatusOr<std::unique_ptr<DirectoryWalker>> walker = w.fs->Walk("", cursor);
    if (!walker.ok()) continue;
    FileInfo entry;
    for (int i = 0; i < 64; ++i) {
      absl::StatusOr<bool> more = (*walker)->Next(&entry);
      if (!more.ok() || !*more) break;
      Check(w.inodes.count(entry.inode) == 1, "Walk escaped the root");
    }
  }
}

}  // namespace
}  // namespace ferry::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::storage;
  static World* world = MakeWorld();  // Leaked on purpose: lives for the process.
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const bool valid = ValidateRelativePath(bytes).ok();
  Check(valid == OracleValid(bytes), "validator disagrees with the oracle");
  ResolveAsPath(*world, bytes, valid);
  ResolveAsWalk(*world, bytes);
  CheckOutsideUntouched(*world);
  return 0;
}
