#include "storage/tree_walker.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_split.h"
#include "storage/path.h"

namespace ferry::storage {
namespace {

// NameList's sort key: the first 8 bytes of `name` as a big-endian number, zero-padded.
// As names hold no NUL, a name that ends inside the key has a 0 where a longer one has a
// byte > 0, so comparing keys agrees with comparing the names, and equal keys mean
// equal first 8 bytes (or equal names, when shorter).
uint64_t KeyOf(absl::string_view name) {
  uint64_t key = 0;
  if (name.size() >= 8) {
    std::memcpy(&key, name.data(), 8);
  } else {
    std::memcpy(&key, name.data(), name.size());
  }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  key = __builtin_bswap64(key);
#endif
  return key;
}

// Orders two names whose keys are equal: by the bytes after the first 8, then length.
bool TailLess(const char* a, size_t a_size, const char* b, size_t b_size) {
  const size_t n = std::min(a_size, b_size);
  if (n > 8) {
    if (const int c = std::memcmp(a + 8, b + 8, n - 8); c != 0) return c < 0;
  }
  return a_size < b_size;
}

}  // namespace

void NameList::Add(absl::string_view name) {
  Entry entry;
  entry.key = KeyOf(name);
  entry.offset = bytes_.size();
  entry.size = name.size();
  entries_.push_back(entry);
  bytes_.append(name.data(), name.size());
  bytes_.push_back('\0');
}

void NameList::Sort() {
  const char* bytes = bytes_.data();
  std::sort(entries_.begin(), entries_.end(), [bytes](const Entry& a, const Entry& b) {
    if (a.key != b.key) return a.key < b.key;
    return TailLess(bytes + a.offset, a.size, bytes + b.offset, b.size);
  });
}

size_t NameList::UpperBound(absl::string_view name) const {
  const uint64_t key = KeyOf(name);
  const char* bytes = bytes_.data();
  auto it = std::upper_bound(
      entries_.begin(), entries_.end(), name,
      [key, bytes](absl::string_view n, const Entry& e) {
        if (key != e.key) return key < e.key;
        return TailLess(n.data(), n.size(), bytes + e.offset, e.size);
      });
  return static_cast<size_t>(it - entries_.begin());
}

absl::Status WalkDirectory::ListInto(NameList* names) {
  absl::StatusOr<std::vector<std::string>> list = List();
  if (!list.ok()) return list.status();
  for (const std::string& name : *list) names->Add(name);
  return absl::OkStatus();
}

absl::Status WalkDirectory::DescribeInto(absl::string_view name, absl::string_view path,
                                         FileInfo* info) {
  absl::StatusOr<FileInfo> described = Describe(std::string(name), std::string(path));
  if (!described.ok()) return described.status();
  *info = *std::move(described);
  return absl::OkStatus();
}

namespace {

// A walk of a single non-directory entry: yields it once.
class SingleEntryWalker : public DirectoryWalker {
 public:
  SingleEntryWalker(FileInfo info, bool done) : info_(std::move(info)), done_(done) {}

  absl::StatusOr<bool> Next(FileInfo* entry) override {
    if (done_) return false;
    done_ = true;
    *entry = info_;
    return true;
  }

  std::string Cursor() const override { return done_ ? EncodeWalkCursor("") : ""; }

 private:
  const FileInfo info_;
  bool done_;
};

// Per entry, Next does no allocation once its buffers have grown: the path is built in
// one buffer (path_), names are read from the frame's NameList, and the backend fills
// the caller's FileInfo in place.
class TreeWalker : public DirectoryWalker {
 public:
  explicit TreeWalker(const std::string& start)
      : path_(start), start_prefix_(start.empty() ? 0 : start.size() + 1) {}

  // Starts at `dir`, then fast-forwards past `resume_after` if set.
  absl::Status Init(std::unique_ptr<WalkDirectory> dir,
                    const std::optional<std::string>& resume_after) {
    if (absl::Status s = PushFrame(std::move(dir)); !s.ok()) return s;
    if (!resume_after.has_value() || resume_after->empty()) return absl::OkStatus();
    has_last_ = true;
    last_ = *resume_after;
    return Resume(absl::StrSplit(*resume_after, '/'));
  }

  absl::StatusOr<bool> Next(FileInfo* entry) override {
    if (pending_) {
      pending_ = false;
      bool pushed;
      if (absl::Status s = EnterChild(&pushed); !s.ok()) return s;
    }
    while (depth_ > 0) {
      Frame& top = frames_[depth_ - 1];
      if (top.next == top.names.size()) {
        PopFrame();
        continue;
      }
      const absl::string_view name = top.names[top.next++];
      path_.resize(top.prefix);
      path_.append(name.data(), name.size());
      absl::Status s = top.dir->DescribeInto(name, path_, entry);
      if (absl::IsNotFound(s)) continue;  // Vanished since listing.
      if (!s.ok()) return s;
      pending_ = entry->type == FileType::kDirectory;
      has_last_ = true;
      last_.assign(path_, start_prefix_, std::string::npos);
      return true;
    }
    return false;
  }

  std::string Cursor() const override {
    return has_last_ ? EncodeWalkCursor(last_) : std::string();
  }

 private:
  // A popped frame keeps its name buffers for the next directory at its depth unless
  // they have grown beyond this, so memory stays bounded by the directories on the
  // current path (plus at most this much per level).
  static constexpr size_t kKeepNameBytes = 64 * 1024;

  struct Frame {
    std::unique_ptr<WalkDirectory> dir;
    NameList names;     // Sorted listing.
    size_t next = 0;    // Index of the next name to return.
    size_t prefix = 0;  // Length of the directory's path in path_, with its '/'.
  };

  // Lists `dir`, whose path is path_, and makes it the top frame.
  absl::Status PushFrame(std::unique_ptr<WalkDirectory> dir) {
    if (depth_ == frames_.size()) frames_.emplace_back();
    Frame& frame = frames_[depth_];
    frame.names.Clear();
    if (absl::Status s = dir->ListInto(&frame.names); !s.ok()) return s;
    frame.names.Sort();
    frame.dir = std::move(dir);
    frame.next = 0;
    if (!path_.empty()) path_.push_back('/');
    frame.prefix = path_.size();
    ++depth_;
    return absl::OkStatus();
  }

  void PopFrame() {
    Frame& frame = frames_[--depth_];
    frame.dir.reset();
    if (frame.names.CapacityBytes() > kKeepNameBytes) frame.names = NameList();
  }

  // Enters the top frame's last returned (or resumed) name, a directory whose path is
  // in path_; *pushed is false if it is no longer a directory (then its contents are
  // skipped).
  absl::Status EnterChild(bool* pushed) {
    *pushed = false;
    Frame& top = frames_[depth_ - 1];
    const std::string name(top.names[top.next - 1]);
    absl::StatusOr<std::unique_ptr<WalkDirectory>> child = top.dir->OpenChild(name, path_);
    if (!child.ok()) return child.status();
    if (*child == nullptr) return absl::OkStatus();
    if (absl::Status s = PushFrame(*std::move(child)); !s.ok()) return s;
    *pushed = true;
    return absl::OkStatus();
  }

  // Rebuilds the frames as they were right after `last` (split into names) was returned.
  absl::Status Resume(const std::vector<absl::string_view>& last) {
    for (size_t i = 0; i < last.size(); ++i) {
      Frame& top = frames_[depth_ - 1];
      top.next = top.names.UpperBound(last[i]);
      const bool present = top.next != 0 && top.names[top.next - 1] == last[i];
      if (!present) return absl::OkStatus();  // Gone: its subtree is gone too.
      path_.resize(top.prefix);
      path_.append(last[i].data(), last[i].size());
      if (i + 1 == last.size()) return MarkPendingIfDirectory();
      bool pushed;
      if (absl::Status s = EnterChild(&pushed); !s.ok() || !pushed) return s;
    }
    return absl::OkStatus();
  }

  // The last returned entry (the top frame's name before `next`, at path_), if a
  // directory, has had none of its contents returned yet.
  absl::Status MarkPendingIfDirectory() {
    Frame& top = frames_[depth_ - 1];
    FileInfo info;
    absl::Status s = top.dir->DescribeInto(top.names[top.next - 1], path_, &info);
    if (absl::IsNotFound(s)) return absl::OkStatus();
    if (!s.ok()) return s;
    pending_ = info.type == FileType::kDirectory;
    return absl::OkStatus();
  }

  // The path (relative to the FileSystem root) of the entry being described or last
  // returned: the top frame's prefix, then the name.
  std::string path_;
  const size_t start_prefix_;  // Of path_: the start directory and its '/', if any.
  std::vector<Frame> frames_;  // [0, depth_) are the directories on the current path;
  size_t depth_ = 0;           // the rest are kept for their buffers.
  bool pending_ = false;       // Enter the last returned entry before going on.
  bool has_last_ = false;
  std::string last_;  // Relative to the start.
};

}  // namespace

absl::StatusOr<std::unique_ptr<DirectoryWalker>> NewTreeWalker(
    FileInfo start_info, std::unique_ptr<WalkDirectory> open_start,
    absl::string_view cursor) {
  absl::StatusOr<std::optional<std::string>> resume = DecodeWalkCursor(cursor);
  if (!resume.ok()) return resume.status();
  if (start_info.type != FileType::kDirectory) {
    // Any cursor means the single entry was already returned (or the start changed
    // from a directory into a file, whose one entry then counts as returned too).
    return std::unique_ptr<DirectoryWalker>(
        new SingleEntryWalker(std::move(start_info), resume->has_value()));
  }
  auto walker = std::make_unique<TreeWalker>(start_info.path);
  if (absl::Status s = walker->Init(std::move(open_start), *resume); !s.ok()) return s;
  return std::unique_ptr<DirectoryWalker>(std::move(walker));
}

}  // namespace ferry::storage
