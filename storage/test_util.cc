#include "storage/test_util.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/mem_file_system.h"
#include "storage/path.h"
#include "storage/posix_file_system.h"

namespace ferry::storage::testing {
namespace {

std::vector<std::string>* tree_entries = nullptr;  // nftw has no user-data argument.

int CollectEntry(const char* path, const struct stat* st, int typeflag, struct FTW*) {
  std::string line = absl::StrCat(absl::CEscape(path), " mode=", st->st_mode,
                                  " size=", st->st_size, " mtime=", st->st_mtim.tv_sec,
                                  ".", st->st_mtim.tv_nsec, " nlink=", st->st_nlink,
                                  " owner=", st->st_uid, ":", st->st_gid);
  if (typeflag == FTW_F && S_ISREG(st->st_mode)) {
    absl::StrAppend(&line, " data=", absl::CEscape(RawReadFile(path)));
  }
  tree_entries->push_back(std::move(line));
  return 0;
}

}  // namespace

std::string BackendName(Backend backend) {
  return backend == Backend::kPosix ? "Posix" : "Mem";
}

std::unique_ptr<FileSystem> NewTestFileSystem(Backend backend, std::string* root_dir) {
  std::string root;
  std::unique_ptr<FileSystem> fs;
  if (backend == Backend::kMem) {
    fs = std::make_unique<MemFileSystem>();
  } else {
    root = MakeTempDir();
    absl::StatusOr<std::unique_ptr<FileSystem>> posix = NewPosixFileSystem(root);
    if (!posix.ok()) ADD_FAILURE() << posix.status();
    if (posix.ok()) fs = *std::move(posix);
  }
  if (root_dir != nullptr) *root_dir = root;
  return fs;
}

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/ferry-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << templ;
  return templ;
}

void RawWriteFile(const std::string& abs_path, absl::string_view data) {
  std::ofstream out(abs_path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) ADD_FAILURE() << "cannot write " << abs_path;
}

std::string RawReadFile(const std::string& abs_path) {
  std::ifstream in(abs_path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read " << abs_path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool RawExists(const std::string& abs_path) {
  struct stat st;
  return lstat(abs_path.c_str(), &st) == 0;
}

std::string RawTreeFingerprint(const std::string& abs_dir) {
  std::vector<std::string> entries;
  tree_entries = &entries;
  if (nftw(abs_dir.c_str(), CollectEntry, 16, FTW_PHYS) != 0) {
    ADD_FAILURE() << "nftw " << abs_dir;
  }
  tree_entries = nullptr;
  std::sort(entries.begin(), entries.end());
  std::string out;
  for (const std::string& e : entries) absl::StrAppend(&out, e, "\n");
  return out;
}

absl::StatusOr<std::string> ReadAll(FileSystem& fs, absl::string_view path) {
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = fs.OpenForRead(path);
  if (!file.ok()) return file.status();
  std::string out;
  char buf[4096];
  for (;;) {
    absl::StatusOr<size_t> n = (*file)->ReadAt(out.size(), buf, sizeof buf);
    if (!n.ok()) return n.status();
    out.append(buf, *n);
    if (*n < sizeof buf) return out;
  }
}

absl::Status WriteFile(FileSystem& fs, absl::string_view path, absl::string_view data,
                       CommitMode mode) {
  absl::StatusOr<TempFile> temp = fs.CreateTemp(path);
  if (!temp.ok()) return temp.status();
  absl::Status s = temp->file->WriteAt(0, data);
  if (s.ok()) s = temp->file->Sync();
  if (absl::Status c = temp->file->Close(); s.ok()) s = c;
  if (s.ok()) s = fs.Rename(temp->path, path, mode);
  if (!s.ok()) {
    fs.Remove(temp->path).IgnoreError();  // Best effort: leave no orphan behind.
    return s;
  }
  return fs.SyncDir(Dirname(path));
}

absl::Status BuildTree(FileSystem& fs, const std::vector<std::string>& specs) {
  for (const std::string& spec : specs) {
    absl::Status s;
    if (size_t arrow = spec.find("->"); arrow != std::string::npos) {
      s = fs.CreateSymlink(spec.substr(arrow + 2), spec.substr(0, arrow));
    } else if (size_t eq = spec.find('='); eq != std::string::npos) {
      s = WriteFile(fs, spec.substr(0, eq), spec.substr(eq + 1));
    } else if (!spec.empty() && spec.back() == '/') {
      s = fs.MakeDirs(spec.substr(0, spec.size() - 1), 0755);
    } else {
      s = absl::InvalidArgumentError("bad tree spec: " + spec);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> WalkAll(FileSystem& fs, absl::string_view path,
                                                 absl::string_view cursor,
                                                 std::vector<std::string>* cursors) {
  absl::StatusOr<std::unique_ptr<DirectoryWalker>> walker = fs.Walk(path, cursor);
  if (!walker.ok()) return walker.status();
  std::vector<std::string> paths;
  FileInfo info;
  for (;;) {
    absl::StatusOr<bool> more = (*walker)->Next(&info);
    if (!more.ok()) return more.status();
    if (!*more) return paths;
    paths.push_back(info.path);
    if (cursors != nullptr) cursors->push_back((*walker)->Cursor());
  }
}

}  // namespace ferry::storage::testing
