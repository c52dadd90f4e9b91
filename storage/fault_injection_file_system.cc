#include "storage/fault_injection_file_system.h"

#include <cerrno>
#include <initializer_list>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "storage/errno_status.h"
#include "storage/mem_file_system.h"
#include "storage/path.h"

namespace ferry::storage {
namespace {

constexpr size_t kNumOps = static_cast<size_t>(FaultOp::kNumOps);

constexpr std::array<absl::string_view, kNumOps> kOpNames = {
    "stat",   "walk",     "walk next", "open for read", "read",      "data extents",
    "fstat",  "create temp", "open for write", "write", "truncate", "fsync",
    "close",  "rename",   "sync dir",  "mkdir",         "remove",    "set mode",
    "symlink", "statvfs", "open or create", "syncfs", "copy", "link", "chown"};

absl::string_view OpName(FaultOp op) { return kOpNames[static_cast<size_t>(op)]; }

absl::Status Injected(FaultKind kind, FaultOp op, absl::string_view path) {
  const absl::Status s = ErrnoToStatus(kind == FaultKind::kEio ? EIO : ENOSPC, OpName(op), path);
  return absl::Status(s.code(), absl::StrCat(s.message(), " (injected)"));
}

// What the wrapper knows about one file written through it, for a best-effort crash
// on backends other than MemFileSystem. Shared by every handle on the same file.
struct Tracked {
  std::string path;  // Current path; follows renames.
  uint64_t size = 0;
  uint64_t synced_size = 0;
  bool dirty = false;
};

}  // namespace

struct FaultInjectionFileSystem::Shared {
  absl::Mutex mu;
  std::vector<FaultRule> rules ABSL_GUARDED_BY(mu);
  std::array<int64_t, kNumOps> counts ABSL_GUARDED_BY(mu) = {};
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;  // Bumped by each simulated crash.
  std::map<std::string, std::shared_ptr<Tracked>> files ABSL_GUARDED_BY(mu);
  std::set<std::string> unsynced_entries ABSL_GUARDED_BY(mu);

  // Counts the call as `op`; returns the injected failure if a rule for `op` (or for
  // `also`) matches one of `paths`.
  absl::Status Hit(FaultOp op, std::initializer_list<absl::string_view> paths,
                   FaultKind* kind = nullptr, FaultOp also = FaultOp::kNumOps) {
    absl::MutexLock lock(&mu);
    ++counts[static_cast<size_t>(op)];
    for (FaultRule& rule : rules) {
      if ((rule.op != op && rule.op != also) || rule.times == 0 ||
          !AnyHasPrefix(paths, rule.path_prefix)) {
        continue;
      }
      if (rule.skip > 0) {
        --rule.skip;
        continue;
      }
      if (rule.times > 0) --rule.times;
      if (kind != nullptr) *kind = rule.kind;
      return Injected(rule.kind, op, *paths.begin());
    }
    return absl::OkStatus();
  }

  // FAILED_PRECONDITION for objects opened before the last simulated crash.
  absl::Status CheckAlive(uint64_t opened_in, FaultOp op, absl::string_view path) {
    absl::MutexLock lock(&mu);
    if (opened_in == generation) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        OpName(op), " ", PathForMessage(path), ": opened before a simulated crash"));
  }

  // Hit and CheckAlive, for a call on a file or walker opened in `generation`.
  absl::Status Enter(FaultOp op, absl::string_view path, uint64_t opened_in) {
    if (absl::Status s = Hit(op, {path}); !s.ok()) return s;
    return CheckAlive(opened_in, op, path);
  }

  uint64_t Generation() {
    absl::MutexLock lock(&mu);
    return generation;
  }

  std::shared_ptr<Tracked> Track(const std::string& path, uint64_t size) {
    absl::MutexLock lock(&mu);
    std::shared_ptr<Tracked>& t = files[path];
    if (t == nullptr) t = std::make_shared<Tracked>(Tracked{path, size, size, false});
    return t;
  }

  void EntryCreated(const std::string& path) {
    absl::MutexLock lock(&mu);
    unsynced_entries.insert(path);
  }

  // Moves what is known about `from` and everything below it to `to`.
  void Renamed(const std::string& from, const std::string& to) {
    absl::MutexLock lock(&mu);
    std::set<std::string> entries;
    for (const std::string& e : unsynced_entries) entries.insert(Moved(e, from, to));
    entries.insert(to);  // The rename itself is a new entry in to's directory.
    unsynced_entries.swap(entries);
    std::map<std::string, std::shared_ptr<Tracked>> moved;
    for (auto& [path, tracked] : files) {
      if (path == to) continue;  // Replaced.
      tracked->path = Moved(path, from, to);
      moved[tracked->path] = std::move(tracked);
    }
    files.swap(moved);
  }

  void Removed(const std::string& path) {
    absl::MutexLock lock(&mu);
    unsynced_entries.erase(path);
    files.erase(path);
  }

  // After a SyncFileSystem: everything seen so far is durable.
  void AllSynced() {
    absl::MutexLock lock(&mu);
    unsynced_entries.clear();
    for (auto& [path, tracked] : files) {
      tracked->synced_size = tracked->size;
      tracked->dirty = false;
    }
  }

  void DirSynced(absl::string_view dir) {
    absl::MutexLock lock(&mu);
    for (auto it = unsynced_entries.begin(); it != unsynced_entries.end();) {
      it = Dirname(*it) == dir ? unsynced_entries.erase(it) : std::next(it);
    }
  }

 private:
  // `path` with its leading `from` replaced by `to` if it is `from` or below it.
  static std::string Moved(const std::string& path, const std::string& from,
                           const std::string& to) {
    if (path == from) return to;
    if (absl::StartsWith(path, from + "/")) return to + path.substr(from.size());
    return path;
  }

  static bool AnyHasPrefix(std::initializer_list<absl::string_view> paths,
                           absl::string_view prefix) {
    for (absl::string_view p : paths) {
      if (absl::StartsWith(p, prefix)) return true;
    }
    return false;
  }
};

namespace {

using Shared = FaultInjectionFileSystem::Shared;

class FaultReadableFile : public ReadableFile {
 public:
  FaultReadableFile(std::shared_ptr<Shared> shared, std::unique_ptr<ReadableFile> base,
                    std::string path)
      : shared_(std::move(shared)), base_(std::move(base)), path_(std::move(path)),
        generation_(shared_->Generation()) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    if (absl::Status s = Enter(FaultOp::kRead); !s.ok()) return s;
    return base_->ReadAt(offset, buf, n);
  }

  absl::StatusOr<FileInfo> Stat() override {
    if (absl::Status s = Enter(FaultOp::kFileStat); !s.ok()) return s;
    return base_->Stat();
  }

  absl::StatusOr<std::vector<Extent>> DataExtents(uint64_t offset,
                                                  uint64_t length) override {
    if (absl::Status s = Enter(FaultOp::kDataExtents); !s.ok()) return s;
    return base_->DataExtents(offset, length);
  }

  // For a CopyFrom reading this file: its read faults, then the file it wraps.
  absl::StatusOr<ReadableFile*> EnterForCopy() {
    if (absl::Status s = Enter(FaultOp::kRead); !s.ok()) return s;
    return base_.get();
  }

 private:
  absl::Status Enter(FaultOp op) { return shared_->Enter(op, path_, generation_); }

  const std::shared_ptr<Shared> shared_;
  const std::unique_ptr<ReadableFile> base_;
  const std::string path_;
  const uint64_t generation_;
};

class FaultWritableFile : public WritableFile {
 public:
  FaultWritableFile(std::shared_ptr<Shared> shared, std::unique_ptr<WritableFile> base,
                    std::string path, std::shared_ptr<Tracked> tracked)
      : shared_(std::move(shared)), base_(std::move(base)), path_(std::move(path)),
        tracked_(std::move(tracked)), generation_(shared_->Generation()) {}

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    FaultKind kind = FaultKind::kEio;
    absl::Status injected = shared_->Hit(FaultOp::kWrite, {path_}, &kind);
    if (absl::Status s = shared_->CheckAlive(generation_, FaultOp::kWrite, path_); !s.ok()) {
      return s;
    }
    if (!injected.ok() && kind != FaultKind::kShortWrite) return injected;
    if (!injected.ok()) data = data.substr(0, data.size() / 2);
    absl::Status s = base_->WriteAt(offset, data);
    if (s.ok()) Grew(offset + data.size());
    return injected.ok() ? s : injected;
  }

  absl::Status Truncate(uint64_t size) override {
    if (absl::Status s = Enter(FaultOp::kTruncate); !s.ok()) return s;
    absl::Status s = base_->Truncate(size);
    if (s.ok()) Resized(size);
    return s;
  }

  absl::Status Sync() override {
    if (absl::Status s = Enter(FaultOp::kSync); !s.ok()) return s;
    absl::Status s = base_->Sync();
    if (s.ok()) Synced();
    return s;
  }

  absl::Status Close() override {
    if (absl::Status s = Enter(FaultOp::kClose); !s.ok()) return s;
    return base_->Close();
  }

  absl::StatusOr<uint64_t> CopyFrom(ReadableFile& source, uint64_t source_offset,
                                    uint64_t offset, uint64_t length) override {
    FaultKind kind = FaultKind::kEio;
    absl::Status injected = shared_->Hit(FaultOp::kCopyFrom, {path_}, &kind, FaultOp::kWrite);
    if (absl::Status s = shared_->CheckAlive(generation_, FaultOp::kCopyFrom, path_);
        !s.ok()) {
      return s;
    }
    if (!injected.ok() && kind != FaultKind::kShortWrite) return injected;
    if (!injected.ok()) length /= 2;
    ReadableFile* from = &source;
    if (auto* wrapped = dynamic_cast<FaultReadableFile*>(&source); wrapped != nullptr) {
      absl::StatusOr<ReadableFile*> unwrapped = wrapped->EnterForCopy();
      if (!unwrapped.ok()) return unwrapped.status();
      from = *unwrapped;
    }
    absl::StatusOr<uint64_t> copied = base_->CopyFrom(*from, source_offset, offset, length);
    if (copied.ok() && *copied > 0) Grew(offset + *copied);
    if (!injected.ok()) return injected;
    return copied;
  }

 private:
  absl::Status Enter(FaultOp op) { return shared_->Enter(op, path_, generation_); }

  void Grew(uint64_t end) {
    absl::MutexLock lock(&shared_->mu);
    tracked_->size = std::max(tracked_->size, end);
    tracked_->dirty = true;
  }

  void Resized(uint64_t size) {
    absl::MutexLock lock(&shared_->mu);
    tracked_->size = size;
    tracked_->dirty = true;
  }

  void Synced() {
    absl::MutexLock lock(&shared_->mu);
    tracked_->synced_size = tracked_->size;
    tracked_->dirty = false;
  }

  const std::shared_ptr<Shared> shared_;
  const std::unique_ptr<WritableFile> base_;
  const std::string path_;
  const std::shared_ptr<Tracked> tracked_;
  const uint64_t generation_;
};

class FaultWalker : public DirectoryWalker {
 public:
  FaultWalker(std::shared_ptr<Shared> shared, std::unique_ptr<DirectoryWalker> base,
              std::string path)
      : shared_(std::move(shared)), base_(std::move(base)), path_(std::move(path)),
        generation_(shared_->Generation()) {}

  absl::StatusOr<bool> Next(FileInfo* entry) override {
    if (absl::Status s = shared_->Enter(FaultOp::kWalkNext, path_, generation_); !s.ok()) {
      return s;
    }
    return base_->Next(entry);
  }

  std::string Cursor() const override { return base_->Cursor(); }

 private:
  const std::shared_ptr<Shared> shared_;
  const std::unique_ptr<DirectoryWalker> base_;
  const std::string path_;
  const uint64_t generation_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base)
    : base_(base), shared_(std::make_shared<Shared>()) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

void FaultInjectionFileSystem::AddFault(FaultRule rule) {
  absl::MutexLock lock(&shared_->mu);
  shared_->rules.push_back(std::move(rule));
}

void FaultInjectionFileSystem::ClearFaults() {
  absl::MutexLock lock(&shared_->mu);
  shared_->rules.clear();
}

int64_t FaultInjectionFileSystem::Count(FaultOp op) const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->counts[static_cast<size_t>(op)];
}

void FaultInjectionFileSystem::SimulateCrash() {
  std::map<std::string, std::shared_ptr<Tracked>> files;
  std::set<std::string> entries;
  {
    absl::MutexLock lock(&shared_->mu);
    ++shared_->generation;
    files.swap(shared_->files);
    entries.swap(shared_->unsynced_entries);
  }
  if (auto* mem = dynamic_cast<MemFileSystem*>(base_); mem != nullptr) {
    mem->DropUnsyncedData();
    return;
  }
  // Best effort through the interface (see the header for what this cannot undo).
  for (const auto& [path, tracked] : files) {
    if (!tracked->dirty && tracked->size == tracked->synced_size) continue;
    absl::StatusOr<std::unique_ptr<WritableFile>> file = base_->OpenForWrite(path);
    if (!file.ok()) continue;
    (*file)->Truncate(tracked->synced_size).IgnoreError();
    (*file)->Close().IgnoreError();
  }
  // A child's path is longer than its parent's: longest first removes children first.
  std::vector<std::string> doomed(entries.begin(), entries.end());
  std::sort(doomed.begin(), doomed.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& path : doomed) base_->Remove(path).IgnoreError();
}

absl::StatusOr<FileInfo> FaultInjectionFileSystem::Stat(absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kStat, {path}); !s.ok()) return s;
  return base_->Stat(path);
}

absl::StatusOr<std::unique_ptr<DirectoryWalker>> FaultInjectionFileSystem::Walk(
    absl::string_view path, absl::string_view cursor) {
  if (absl::Status s = shared_->Hit(FaultOp::kWalk, {path}); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<DirectoryWalker>> walker = base_->Walk(path, cursor);
  if (!walker.ok()) return walker.status();
  return std::unique_ptr<DirectoryWalker>(
      new FaultWalker(shared_, *std::move(walker), std::string(path)));
}

absl::StatusOr<std::unique_ptr<ReadableFile>> FaultInjectionFileSystem::OpenForRead(
    absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kOpenForRead, {path}); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<ReadableFile>> file = base_->OpenForRead(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<ReadableFile>(
      new FaultReadableFile(shared_, *std::move(file), std::string(path)));
}

absl::StatusOr<TempFile> FaultInjectionFileSystem::CreateTemp(absl::string_view target_path) {
  if (absl::Status s = shared_->Hit(FaultOp::kCreateTemp, {target_path}); !s.ok()) return s;
  absl::StatusOr<TempFile> temp = base_->CreateTemp(target_path);
  if (!temp.ok()) return temp.status();
  shared_->EntryCreated(temp->path);
  std::shared_ptr<Tracked> tracked = shared_->Track(temp->path, 0);
  temp->file = std::make_unique<FaultWritableFile>(shared_, std::move(temp->file),
                                                   temp->path, std::move(tracked));
  return temp;
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::OpenForWrite(
    absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kOpenForWrite, {path}); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<WritableFile>> file = base_->OpenForWrite(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<FileInfo> info = base_->Stat(path);  // Assumed durable as found.
  std::shared_ptr<Tracked> tracked =
      shared_->Track(std::string(path), info.ok() ? info->size : 0);
  return std::unique_ptr<WritableFile>(new FaultWritableFile(
      shared_, *std::move(file), std::string(path), std::move(tracked)));
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::OpenOrCreateForWrite(
    absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kOpenOrCreateForWrite, {path}); !s.ok()) {
    return s;
  }
  // Best effort (another process may create it in between): an existing file is
  // assumed durable as found, a created one is a new entry with nothing synced.
  absl::StatusOr<FileInfo> before = base_->Stat(path);
  absl::StatusOr<std::unique_ptr<WritableFile>> file = base_->OpenOrCreateForWrite(path);
  if (!file.ok()) return file.status();
  if (!before.ok()) shared_->EntryCreated(std::string(path));
  std::shared_ptr<Tracked> tracked =
      shared_->Track(std::string(path), before.ok() ? before->size : 0);
  return std::unique_ptr<WritableFile>(new FaultWritableFile(
      shared_, *std::move(file), std::string(path), std::move(tracked)));
}

absl::Status FaultInjectionFileSystem::Rename(absl::string_view from, absl::string_view to,
                                              CommitMode mode) {
  if (absl::Status s = shared_->Hit(FaultOp::kRename, {from, to}); !s.ok()) return s;
  absl::Status s = base_->Rename(from, to, mode);
  if (s.ok()) shared_->Renamed(std::string(from), std::string(to));
  return s;
}

absl::Status FaultInjectionFileSystem::SyncDir(absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kSyncDir, {path}); !s.ok()) return s;
  absl::Status s = base_->SyncDir(path);
  if (s.ok()) shared_->DirSynced(path);
  return s;
}

absl::Status FaultInjectionFileSystem::SyncFileSystem() {
  if (absl::Status s = shared_->Hit(FaultOp::kSyncFileSystem, {""}); !s.ok()) return s;
  absl::Status s = base_->SyncFileSystem();
  if (s.ok()) shared_->AllSynced();
  return s;
}

absl::Status FaultInjectionFileSystem::MakeDirs(absl::string_view path, uint32_t mode) {
  if (absl::Status s = shared_->Hit(FaultOp::kMakeDirs, {path}); !s.ok()) return s;
  // Which directories this call creates, for the best-effort crash (racy; tests only).
  std::vector<std::string> missing;
  std::string prefix;
  for (absl::string_view name : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    prefix = JoinPath(prefix, name);
    if (absl::IsNotFound(base_->Stat(prefix).status())) missing.push_back(prefix);
  }
  absl::Status s = base_->MakeDirs(path, mode);
  if (s.ok()) {
    for (const std::string& dir : missing) shared_->EntryCreated(dir);
  }
  return s;
}

absl::Status FaultInjectionFileSystem::Remove(absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kRemove, {path}); !s.ok()) return s;
  absl::Status s = base_->Remove(path);
  if (s.ok()) shared_->Removed(std::string(path));
  return s;
}

absl::Status FaultInjectionFileSystem::SetModeAndMtime(absl::string_view path, uint32_t mode,
                                                       int64_t mtime_ns) {
  if (absl::Status s = shared_->Hit(FaultOp::kSetModeAndMtime, {path}); !s.ok()) return s;
  return base_->SetModeAndMtime(path, mode, mtime_ns);
}

absl::Status FaultInjectionFileSystem::CreateSymlink(absl::string_view target,
                                                     absl::string_view path) {
  if (absl::Status s = shared_->Hit(FaultOp::kCreateSymlink, {path}); !s.ok()) return s;
  absl::Status s = base_->CreateSymlink(target, path);
  if (s.ok()) shared_->EntryCreated(std::string(path));
  return s;
}

absl::Status FaultInjectionFileSystem::Link(absl::string_view existing,
                                            absl::string_view new_path) {
  if (absl::Status s = shared_->Hit(FaultOp::kLink, {existing, new_path}); !s.ok()) return s;
  absl::Status s = base_->Link(existing, new_path);
  if (s.ok()) shared_->EntryCreated(std::string(new_path));
  return s;
}

absl::Status FaultInjectionFileSystem::SetOwner(absl::string_view path, uint32_t uid,
                                                uint32_t gid) {
  if (absl::Status s = shared_->Hit(FaultOp::kSetOwner, {path}); !s.ok()) return s;
  return base_->SetOwner(path, uid, gid);
}

absl::StatusOr<SpaceInfo> FaultInjectionFileSystem::FreeSpace() {
  if (absl::Status s = shared_->Hit(FaultOp::kFreeSpace, {""}); !s.ok()) return s;
  return base_->FreeSpace();
}

}  // namespace ferry::storage
