#include "storage/mem_file_system.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/errno_status.h"
#include "storage/path.h"
#include "storage/tree_walker.h"

namespace ferry::storage {
namespace {

// A std::string holds a whole file, so files are capped well below memory size.
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;
constexpr uint64_t kMemDevice = 0x6d656d;  // Any constant: one device per fake.

// Where a regular file has data: start -> end, disjoint and never touching.
class ExtentMap {
 public:
  // Marks [start, end) as data; returns how many bytes were newly covered.
  uint64_t Add(uint64_t start, uint64_t end) {
    if (start >= end) return 0;
    uint64_t covered_before = 0;
    auto it = ranges_.upper_bound(start);
    if (it != ranges_.begin() && std::prev(it)->second >= start) --it;
    while (it != ranges_.end() && it->first <= end) {
      covered_before += it->second - it->first;
      start = std::min(start, it->first);
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    ranges_[start] = end;
    return (end - start) - covered_before;
  }

  // Drops everything at or after `size`; returns how many bytes were uncovered.
  uint64_t CutAt(uint64_t size) {
    uint64_t removed = 0;
    auto it = ranges_.lower_bound(size);
    if (it != ranges_.begin() && std::prev(it)->second > size) {
      --it;
      removed += it->second - size;
      it->second = size;
      ++it;
    }
    while (it != ranges_.end()) {
      removed += it->second - it->first;
      it = ranges_.erase(it);
    }
    return removed;
  }

  // Drops [start, end); returns how many bytes were uncovered.
  uint64_t Punch(uint64_t start, uint64_t end) {
    uint64_t removed = 0;
    auto it = ranges_.upper_bound(start);
    if (it != ranges_.begin() && std::prev(it)->second > start) --it;
    while (it != ranges_.end() && it->first < end) {
      const uint64_t s = it->first, e = it->second;
      it = ranges_.erase(it);
      // What sticks out either side stays; neither insertion lands at or after `it`.
      if (s < start) ranges_[s] = start;
      if (e > end) ranges_[end] = e;
      removed += std::min(e, end) - std::max(s, start);
    }
    return removed;
  }

  std::vector<Extent> Within(uint64_t start, uint64_t end) const {
    std::vector<Extent> out;
    auto it = ranges_.upper_bound(start);
    if (it != ranges_.begin()) --it;
    for (; it != ranges_.end() && it->first < end; ++it) {
      const uint64_t s = std::max(start, it->first), e = std::min(end, it->second);
      if (s < e) out.push_back({s, e - s});
    }
    return out;
  }

  uint64_t Covered() const {
    uint64_t n = 0;
    for (const auto& [s, e] : ranges_) n += e - s;
    return n;
  }

 private:
  std::map<uint64_t, uint64_t> ranges_;
};

}  // namespace

using Node = MemFileSystem::Node;
using NodePtr = std::shared_ptr<Node>;
using Entries = std::map<std::string, NodePtr>;  // Byte-wise order, like the walk.

namespace {

// What a crash can take back: the live copy is what callers see, the durable copy what
// survives DropUnsyncedData.
struct Content {
  uint32_t mode = 0;
  int64_t mtime_ns = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string data;   // kRegular: the bytes; holes read as zeros.
  ExtentMap extents;  // kRegular: where data was written.
  Entries entries;    // kDirectory.
};

}  // namespace

struct MemFileSystem::Node {
  FileType type = FileType::kOther;
  uint64_t inode = 0;
  uint64_t links = 0;  // Live directory entries naming this node (its nlink).
  std::string target;  // kSymlink: the link text (immutable).
  Content live;
  Content durable;
};

namespace {

int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

}  // namespace

struct MemFileSystem::State {
  absl::Mutex mu;
  NodePtr root ABSL_GUARDED_BY(mu);
  uint64_t next_inode ABSL_GUARDED_BY(mu) = 2;
  uint64_t capacity = 0;
  uint64_t used ABSL_GUARDED_BY(mu) = 0;  // Bytes of data extents written.
  absl::BitGen random ABSL_GUARDED_BY(mu);

  NodePtr NewNode(FileType type, uint32_t mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto node = std::make_shared<Node>();
    node->type = type;
    node->inode = next_inode++;
    node->live.mode = mode & 07777;
    node->live.mtime_ns = NowNs();
    node->live.uid = geteuid();
    node->live.gid = getegid();
    node->durable = node->live;  // Exists empty once its directory entry is durable.
    return node;
  }
};

namespace {

using State = MemFileSystem::State;

FileInfo InfoOf(const Node& node, absl::string_view path) {
  FileInfo info;
  info.path = std::string(path);
  info.type = node.type;
  info.mode = node.live.mode;
  info.mtime_ns = node.live.mtime_ns;
  info.inode = node.inode;
  info.device = kMemDevice;
  info.nlink = node.links;
  info.uid = node.live.uid;
  info.gid = node.live.gid;
  if (node.type == FileType::kRegular) info.size = node.live.data.size();
  if (node.type == FileType::kSymlink) {
    info.size = node.target.size();
    info.symlink_target = node.target;
  }
  if (node.type == FileType::kDirectory) {
    info.nlink = 2;
    for (const auto& [name, child] : node.live.entries) {
      if (child->type == FileType::kDirectory) ++info.nlink;
    }
  }
  return info;
}

// Whether the process is in group `gid`, effective or supplementary (in_group_p).
bool InGroup(uint32_t gid) {
  if (gid == getegid()) return true;
  std::vector<gid_t> groups(NGROUPS_MAX);
  const int n = getgroups(static_cast<int>(groups.size()), groups.data());
  return n > 0 && std::find(groups.begin(), groups.begin() + n, gid) != groups.begin() + n;
}

// chown(2)'s rules, root standing for CAP_CHOWN: anything for root; otherwise the owner
// may keep the owner and pick a group it is in. Also what the change does to the mode:
// a non-directory loses set-user-ID, and set-group-ID if group-executable or (without
// root) if the process is not in the file's group.
absl::Status Chown(Node& node, uint32_t uid, uint32_t gid, absl::string_view path) {
  Content& c = node.live;
  const bool root = geteuid() == 0;
  if (!root && (c.uid != geteuid() || uid != c.uid || (gid != c.gid && !InGroup(gid)))) {
    return ErrnoToStatus(EPERM, "chown", path);
  }
  if (node.type != FileType::kDirectory) {
    c.mode &= ~uint32_t{S_ISUID};
    if ((c.mode & S_IXGRP) != 0 || (!root && !InGroup(c.gid))) c.mode &= ~uint32_t{S_ISGID};
  }
  c.uid = uid;
  c.gid = gid;
  return absl::OkStatus();
}

// The status a POSIX lookup gives when it meets `node` where a directory is needed.
absl::Status NotADirectory(const Node& node, absl::string_view op, absl::string_view path) {
  return ErrnoToStatus(node.type == FileType::kSymlink ? ELOOP : ENOTDIR, op, path);
}

// Resolves `dir_path` (every component a directory, no symlink followed).
absl::StatusOr<NodePtr> FindDir(const NodePtr& root, absl::string_view dir_path,
                                absl::string_view op, absl::string_view path) {
  NodePtr dir = root;
  for (absl::string_view name : absl::StrSplit(dir_path, '/', absl::SkipEmpty())) {
    auto it = dir->live.entries.find(std::string(name));
    if (it == dir->live.entries.end()) return ErrnoToStatus(ENOENT, op, path);
    if (it->second->type != FileType::kDirectory) return NotADirectory(*it->second, op, path);
    dir = it->second;
  }
  return dir;
}

// A named entry: its directory, its name, and the node if it exists.
struct Located {
  NodePtr parent;
  std::string name;
  NodePtr node;  // nullptr if there is no such entry.
};

absl::StatusOr<Located> Locate(const NodePtr& root, absl::string_view path,
                               absl::string_view op) {
  absl::StatusOr<NodePtr> parent = FindDir(root, Dirname(path), op, path);
  if (!parent.ok()) return parent.status();
  Located loc{*parent, std::string(Basename(path)), nullptr};
  auto it = loc.parent->live.entries.find(loc.name);
  if (it != loc.parent->live.entries.end()) loc.node = it->second;
  return loc;
}

// Locate for an entry that must exist (ENOENT otherwise).
absl::StatusOr<Located> LocateExisting(const NodePtr& root, absl::string_view path,
                                       absl::string_view op) {
  absl::StatusOr<Located> loc = Locate(root, path, op);
  if (loc.ok() && loc->node == nullptr) return ErrnoToStatus(ENOENT, op, path);
  return loc;
}

// Names `node` `name` in `parent`, replacing what had that name.
void AddEntry(Node* parent, const std::string& name, NodePtr node) {
  ++node->links;
  NodePtr& slot = parent->live.entries[name];
  if (slot != nullptr) --slot->links;
  slot = std::move(node);
  parent->live.mtime_ns = NowNs();
}

void RemoveEntry(Node* parent, const std::string& name) {
  auto it = parent->live.entries.find(name);
  if (it == parent->live.entries.end()) return;
  --it->second->links;
  parent->live.entries.erase(it);
  parent->live.mtime_ns = NowNs();
}

// The bytes a node whose last name went away gave back.
uint64_t FreedBytes(const Node& node) {
  return node.links == 0 ? node.live.extents.Covered() : 0;
}

// Calls `fn` once for every node reachable from `root` through `entries_of`.
template <typename Fn, typename EntriesOf>
void ForEachNode(Node* root, EntriesOf entries_of, Fn fn) {
  std::unordered_set<Node*> seen;
  std::vector<Node*> todo = {root};
  while (!todo.empty()) {
    Node* node = todo.back();
    todo.pop_back();
    if (!seen.insert(node).second) continue;
    fn(*node);
    for (const auto& [name, child] : entries_of(*node)) todo.push_back(child.get());
  }
}

// --- Files -----------------------------------------------------------------------------

class MemReadableFile : public ReadableFile {
 public:
  MemReadableFile(std::shared_ptr<State> state, NodePtr node, std::string path)
      : state_(std::move(state)), node_(std::move(node)), path_(std::move(path)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    absl::MutexLock lock(&state_->mu);
    const std::string& data = node_->live.data;
    if (offset >= data.size()) return 0;
    const size_t count = std::min<uint64_t>(n, data.size() - offset);
    std::copy_n(data.data() + offset, count, buf);
    return count;
  }

  absl::StatusOr<FileInfo> Stat() override {
    absl::MutexLock lock(&state_->mu);
    return InfoOf(*node_, path_);
  }

  absl::StatusOr<std::vector<Extent>> DataExtents(uint64_t offset,
                                                  uint64_t length) override {
    absl::MutexLock lock(&state_->mu);
    const uint64_t size = node_->live.data.size();
    const uint64_t end = offset >= size ? size : offset + std::min(length, size - offset);
    return node_->live.extents.Within(offset, end);
  }

 private:
  const std::shared_ptr<State> state_;
  const NodePtr node_;
  const std::string path_;
};

class MemWritableFile : public WritableFile {
 public:
  MemWritableFile(std::shared_ptr<State> state, NodePtr node, std::string path)
      : state_(std::move(state)), node_(std::move(node)), path_(std::move(path)) {}

  absl::Status WriteAt(uint64_t offset, absl::string_view data) override {
    absl::MutexLock lock(&state_->mu);
    if (absl::Status s = CheckOpen("write"); !s.ok()) return s;
    if (data.empty()) return absl::OkStatus();
    if (offset > kMaxFileBytes || data.size() > kMaxFileBytes - offset) {
      return ErrnoToStatus(EFBIG, "write", path_);
    }
    Content& c = node_->live;
    if (absl::Status s = Reserve(offset, offset + data.size()); !s.ok()) return s;
    if (c.data.size() < offset + data.size()) c.data.resize(offset + data.size(), '\0');
    std::copy(data.begin(), data.end(), c.data.begin() + offset);
    c.mtime_ns = NowNs();
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    absl::MutexLock lock(&state_->mu);
    if (absl::Status s = CheckOpen("truncate"); !s.ok()) return s;
    if (size > kMaxFileBytes) return ErrnoToStatus(EFBIG, "truncate", path_);
    Content& c = node_->live;
    state_->used -= c.extents.CutAt(size);
    c.data.resize(size, '\0');  // Growing adds a hole: no extent.
    c.mtime_ns = NowNs();
    return absl::OkStatus();
  }

  absl::Status Sync() override {
    absl::MutexLock lock(&state_->mu);
    if (absl::Status s = CheckOpen("fsync"); !s.ok()) return s;
    node_->durable = node_->live;
    return absl::OkStatus();
  }

  absl::Status Close() override {
    absl::MutexLock lock(&state_->mu);
    closed_ = true;
    return absl::OkStatus();
  }

  // Reads and writes through a buffer (the default CopyData): the source may be any
  // implementation, and may be a file of this same fake, so no lock is held meanwhile.
  absl::StatusOr<uint64_t> CopyFrom(ReadableFile& source, uint64_t source_offset,
                                    uint64_t offset, uint64_t length) override {
    {
      absl::MutexLock lock(&state_->mu);
      if (absl::Status s = CheckOpen("copy"); !s.ok()) return s;
    }
    return CopyExtents(source, source_offset, offset, length);
  }

 protected:
  absl::Status ClearRange(uint64_t offset, uint64_t length) override {
    absl::MutexLock lock(&state_->mu);
    if (absl::Status s = CheckOpen("copy"); !s.ok()) return s;
    Content& c = node_->live;
    if (offset >= c.data.size()) return absl::OkStatus();
    const uint64_t stop = std::min<uint64_t>(offset + length, c.data.size());
    state_->used -= c.extents.Punch(offset, stop);
    std::fill(c.data.begin() + offset, c.data.begin() + stop, '\0');
    c.mtime_ns = NowNs();
    return absl::OkStatus();
  }

  absl::Status ExtendTo(uint64_t size) override {
    absl::MutexLock lock(&state_->mu);
    if (absl::Status s = CheckOpen("copy"); !s.ok()) return s;
    if (size > kMaxFileBytes) return ErrnoToStatus(EFBIG, "copy", path_);
    Content& c = node_->live;
    if (c.data.size() < size) c.data.resize(size, '\0');  // A hole: no extent.
    c.mtime_ns = NowNs();
    return absl::OkStatus();
  }

 private:
  absl::Status CheckOpen(absl::string_view op) const {
    if (!closed_) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(op, " ", PathForMessage(path_), ": file already closed"));
  }

  // Accounts the bytes [start, end) newly take against the capacity.
  absl::Status Reserve(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    ExtentMap grown = node_->live.extents;
    const uint64_t added = grown.Add(start, end);
    if (state_->used + added > state_->capacity) return ErrnoToStatus(ENOSPC, "write", path_);
    state_->used += added;
    node_->live.extents = std::move(grown);
    return absl::OkStatus();
  }

  const std::shared_ptr<State> state_;
  const NodePtr node_;
  const std::string path_;
  bool closed_ = false;
};

// --- Walk ------------------------------------------------------------------------------

class MemWalkDirectory : public WalkDirectory {
 public:
  MemWalkDirectory(std::shared_ptr<State> state, NodePtr dir)
      : state_(std::move(state)), dir_(std::move(dir)) {}

  absl::StatusOr<std::vector<std::string>> List() override {
    absl::MutexLock lock(&state_->mu);
    std::vector<std::string> names;
    names.reserve(dir_->live.entries.size());
    for (const auto& [name, node] : dir_->live.entries) names.push_back(name);
    return names;
  }

  absl::StatusOr<FileInfo> Describe(const std::string& name,
                                    const std::string& path) override {
    absl::MutexLock lock(&state_->mu);
    auto it = dir_->live.entries.find(name);
    if (it == dir_->live.entries.end()) return ErrnoToStatus(ENOENT, "stat", path);
    return InfoOf(*it->second, path);
  }

  absl::StatusOr<std::unique_ptr<WalkDirectory>> OpenChild(const std::string& name,
                                                           const std::string&) override {
    absl::MutexLock lock(&state_->mu);
    auto it = dir_->live.entries.find(name);
    if (it == dir_->live.entries.end() || it->second->type != FileType::kDirectory) {
      return std::unique_ptr<WalkDirectory>();
    }
    return std::unique_ptr<WalkDirectory>(new MemWalkDirectory(state_, it->second));
  }

 private:
  const std::shared_ptr<State> state_;
  const NodePtr dir_;
};

// The POSIX rename(2) rules for replacing `to` (which exists) by `from`.
absl::Status CheckReplace(const Node& from, const Node& to, absl::string_view what) {
  if (from.type == FileType::kDirectory) {
    if (to.type != FileType::kDirectory) return ErrnoToStatus(ENOTDIR, "rename", what);
    if (!to.live.entries.empty()) return ErrnoToStatus(ENOTEMPTY, "rename", what);
  } else if (to.type == FileType::kDirectory) {
    return ErrnoToStatus(EISDIR, "rename", what);
  }
  return absl::OkStatus();
}

}  // namespace

// --- MemFileSystem ---------------------------------------------------------------------

MemFileSystem::MemFileSystem(uint64_t capacity_bytes) : state_(std::make_shared<State>()) {
  absl::MutexLock lock(&state_->mu);
  state_->capacity = capacity_bytes;
  state_->root = state_->NewNode(FileType::kDirectory, 0755);
}

MemFileSystem::~MemFileSystem() = default;

absl::StatusOr<FileInfo> MemFileSystem::Stat(absl::string_view path) {
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  if (path.empty()) return InfoOf(*state_->root, path);
  absl::StatusOr<Located> loc = LocateExisting(state_->root, path, "stat");
  if (!loc.ok()) return loc.status();
  return InfoOf(*loc->node, path);
}

absl::StatusOr<std::unique_ptr<DirectoryWalker>> MemFileSystem::Walk(
    absl::string_view path, absl::string_view cursor) {
  absl::StatusOr<FileInfo> info = Stat(path);
  if (!info.ok()) return info.status();
  std::unique_ptr<WalkDirectory> start;
  if (info->type == FileType::kDirectory) {
    absl::MutexLock lock(&state_->mu);
    absl::StatusOr<NodePtr> dir = FindDir(state_->root, path, "walk", path);
    if (!dir.ok()) return dir.status();
    start = std::make_unique<MemWalkDirectory>(state_, *std::move(dir));
  }
  return NewTreeWalker(*std::move(info), std::move(start), cursor);
}

absl::StatusOr<std::unique_ptr<ReadableFile>> MemFileSystem::OpenForRead(
    absl::string_view path) {
  absl::StatusOr<std::shared_ptr<Node>> node = FindRegular(path, "open for read");
  if (!node.ok()) return node.status();
  return std::unique_ptr<ReadableFile>(
      new MemReadableFile(state_, *std::move(node), std::string(path)));
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::OpenForWrite(
    absl::string_view path) {
  absl::StatusOr<std::shared_ptr<Node>> node = FindRegular(path, "open for write");
  if (!node.ok()) return node.status();
  return std::unique_ptr<WritableFile>(
      new MemWritableFile(state_, *std::move(node), std::string(path)));
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::OpenOrCreateForWrite(
    absl::string_view path) {
  constexpr absl::string_view kOp = "open or create";
  if (path.empty()) return CheckRegularFile(FileType::kDirectory, kOp, path);
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> loc = Locate(state_->root, path, kOp);
  if (!loc.ok()) return loc.status();
  NodePtr node = loc->node;
  if (node == nullptr) {
    node = state_->NewNode(FileType::kRegular, 0600);
    AddEntry(loc->parent.get(), loc->name, node);
  } else if (absl::Status s = CheckRegularFile(node->type, kOp, path); !s.ok()) {
    return s;
  } else if (absl::Status s = CheckUnshared(node->links, node->live.uid, kOp, path); !s.ok()) {
    return s;
  }
  return std::unique_ptr<WritableFile>(
      new MemWritableFile(state_, std::move(node), std::string(path)));
}

absl::StatusOr<std::shared_ptr<Node>> MemFileSystem::FindRegular(absl::string_view path,
                                                                 absl::string_view op) {
  if (path.empty()) return CheckRegularFile(FileType::kDirectory, op, path);
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> loc = LocateExisting(state_->root, path, op);
  if (!loc.ok()) return loc.status();
  if (absl::Status s = CheckRegularFile(loc->node->type, op, path); !s.ok()) return s;
  return loc->node;
}

absl::StatusOr<TempFile> MemFileSystem::CreateTemp(absl::string_view target_path) {
  if (absl::Status s = ValidateNonRootPath(target_path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<NodePtr> dir =
      FindDir(state_->root, Dirname(target_path), "create temp", target_path);
  if (!dir.ok()) return dir.status();
  std::string name;
  do {
    name = TempFileName(Basename(target_path), absl::Uniform<uint64_t>(state_->random));
  } while ((*dir)->live.entries.count(name) != 0);
  NodePtr node = state_->NewNode(FileType::kRegular, 0600);
  AddEntry(dir->get(), name, node);
  const std::string path = JoinPath(Dirname(target_path), name);
  return TempFile{path, std::make_unique<MemWritableFile>(state_, std::move(node), path)};
}

absl::Status MemFileSystem::Rename(absl::string_view from, absl::string_view to,
                                   CommitMode mode) {
  if (absl::Status s = ValidateNonRootPath(from); !s.ok()) return s;
  if (absl::Status s = ValidateNonRootPath(to); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> src = Locate(state_->root, from, "rename");
  if (!src.ok()) return src.status();
  absl::StatusOr<Located> dst = Locate(state_->root, to, "rename");
  if (!dst.ok()) return dst.status();
  const std::string what = absl::StrCat(from, " -> ", to);
  if (src->node == nullptr) return ErrnoToStatus(ENOENT, "rename", what);
  if (dst->node != nullptr && mode == CommitMode::kNoReplace) {
    return ErrnoToStatus(EEXIST, "rename", what);
  }
  if (dst->node == src->node) return absl::OkStatus();  // POSIX: same inode, no-op.
  if (src->node->type == FileType::kDirectory && absl::StartsWith(to, absl::StrCat(from, "/"))) {
    return ErrnoToStatus(EINVAL, "rename", what);  // Into its own subtree.
  }
  if (dst->node != nullptr) {
    if (absl::Status s = CheckReplace(*src->node, *dst->node, what); !s.ok()) return s;
  }
  AddEntry(dst->parent.get(), dst->name, src->node);
  RemoveEntry(src->parent.get(), src->name);
  if (dst->node != nullptr) state_->used -= FreedBytes(*dst->node);
  return absl::OkStatus();
}

absl::Status MemFileSystem::SyncDir(absl::string_view path) {
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<NodePtr> dir = FindDir(state_->root, path, "sync dir", path);
  if (!dir.ok()) return dir.status();
  (*dir)->durable = (*dir)->live;
  return absl::OkStatus();
}

absl::Status MemFileSystem::SyncFileSystem() {
  SyncAll();
  return absl::OkStatus();
}

absl::Status MemFileSystem::MakeDirs(absl::string_view path, uint32_t mode) {
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  Node* dir = state_->root.get();
  std::string done;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    const std::string name(part);
    done = JoinPath(done, name);
    auto it = dir->live.entries.find(name);
    if (it == dir->live.entries.end()) {
      NodePtr child = state_->NewNode(FileType::kDirectory, mode);
      AddEntry(dir, name, child);
      dir = child.get();
    } else if (it->second->type != FileType::kDirectory) {
      return NotADirectory(*it->second, "mkdir", done);
    } else {
      dir = it->second.get();
    }
  }
  return absl::OkStatus();
}

absl::Status MemFileSystem::Remove(absl::string_view path) {
  if (absl::Status s = ValidateNonRootPath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> loc = LocateExisting(state_->root, path, "remove");
  if (!loc.ok()) return loc.status();
  if (!loc->node->live.entries.empty()) return ErrnoToStatus(ENOTEMPTY, "remove", path);
  RemoveEntry(loc->parent.get(), loc->name);
  state_->used -= FreedBytes(*loc->node);
  return absl::OkStatus();
}

absl::Status MemFileSystem::SetModeAndMtime(absl::string_view path, uint32_t mode,
                                            int64_t mtime_ns) {
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  NodePtr node = state_->root;
  if (!path.empty()) {
    absl::StatusOr<Located> loc = Locate(state_->root, path, "set mode");
    if (!loc.ok()) return loc.status();
    if (loc->node == nullptr) return ErrnoToStatus(ENOENT, "chmod", path);
    node = loc->node;
  }
  if (node->type != FileType::kSymlink) node->live.mode = mode & 07777;  // Linux: no modes.
  node->live.mtime_ns = mtime_ns;
  return absl::OkStatus();
}

absl::Status MemFileSystem::SetOwner(absl::string_view path, uint32_t uid, uint32_t gid) {
  if (absl::Status s = ValidateRelativePath(path); !s.ok()) return s;
  if (absl::Status s = ValidateOwner(uid, gid, path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  NodePtr node = state_->root;
  if (!path.empty()) {
    absl::StatusOr<Located> loc = LocateExisting(state_->root, path, "chown");
    if (!loc.ok()) return loc.status();
    node = loc->node;
  }
  return Chown(*node, uid, gid, path);
}

absl::Status MemFileSystem::CreateSymlink(absl::string_view target, absl::string_view path) {
  if (absl::Status s = ValidateNonRootPath(path); !s.ok()) return s;
  if (absl::Status s = ValidateSymlinkTarget(target, path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> loc = Locate(state_->root, path, "symlink");
  if (!loc.ok()) return loc.status();
  if (loc->node != nullptr) return ErrnoToStatus(EEXIST, "symlink", path);
  NodePtr node = state_->NewNode(FileType::kSymlink, 0777);
  node->target = std::string(target);
  AddEntry(loc->parent.get(), loc->name, std::move(node));
  return absl::OkStatus();
}

absl::Status MemFileSystem::Link(absl::string_view existing, absl::string_view new_path) {
  if (absl::Status s = ValidateNonRootPath(existing); !s.ok()) return s;
  if (absl::Status s = ValidateNonRootPath(new_path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> from = LocateExisting(state_->root, existing, "link");
  if (!from.ok()) return from.status();
  if (absl::Status s = CheckLinkable(from->node->type, existing); !s.ok()) return s;
  absl::StatusOr<Located> to = Locate(state_->root, new_path, "link");
  if (!to.ok()) return to.status();
  if (to->node != nullptr) return LinkErrnoToStatus(EEXIST, existing, new_path);
  AddEntry(to->parent.get(), to->name, from->node);
  return absl::OkStatus();
}

absl::StatusOr<SpaceInfo> MemFileSystem::FreeSpace() {
  absl::MutexLock lock(&state_->mu);
  SpaceInfo info;
  info.total_bytes = state_->capacity;
  info.available_bytes = state_->capacity - std::min(state_->capacity, state_->used);
  return info;
}

absl::Status MemFileSystem::MakeSpecialFile(absl::string_view path) {
  if (absl::Status s = ValidateNonRootPath(path); !s.ok()) return s;
  absl::MutexLock lock(&state_->mu);
  absl::StatusOr<Located> loc = Locate(state_->root, path, "mknod");
  if (!loc.ok()) return loc.status();
  if (loc->node != nullptr) return ErrnoToStatus(EEXIST, "mknod", path);
  AddEntry(loc->parent.get(), loc->name, state_->NewNode(FileType::kOther, 0644));
  return absl::OkStatus();
}

void MemFileSystem::SyncAll() {
  absl::MutexLock lock(&state_->mu);
  ForEachNode(
      state_->root.get(), [](const Node& n) -> const Entries& { return n.live.entries; },
      [](Node& n) { n.durable = n.live; });
}

void MemFileSystem::DropUnsyncedData() {
  absl::MutexLock lock(&state_->mu);
  // Following durable entries reaches exactly the nodes that survive the crash.
  ForEachNode(
      state_->root.get(), [](const Node& n) -> const Entries& { return n.durable.entries; },
      [](Node& n) { n.live = n.durable; });
  const auto live_entries = [](const Node& n) -> const Entries& { return n.live.entries; };
  uint64_t used = 0;
  ForEachNode(state_->root.get(), live_entries, [&used](Node& n) {
    used += n.live.extents.Covered();
    n.links = 0;
  });
  state_->used = used;
  ForEachNode(state_->root.get(), live_entries, [](Node& n) {
    for (const auto& [name, child] : n.live.entries) ++child->links;
  });
}

}  // namespace ferry::storage
