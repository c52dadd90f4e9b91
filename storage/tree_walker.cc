#include "storage/tree_walker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_split.h"
#include "storage/path.h"

namespace ferry::storage {
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

class TreeWalker : public DirectoryWalker {
 public:
  explicit TreeWalker(std::string start) : start_(std::move(start)) {}

  // Starts at `dir`, then fast-forwards past `resume_after` if set.
  absl::Status Init(std::unique_ptr<WalkDirectory> dir,
                    const std::optional<std::string>& resume_after) {
    if (absl::Status s = PushFrame(std::move(dir), ""); !s.ok()) return s;
    if (!resume_after.has_value() || resume_after->empty()) return absl::OkStatus();
    has_last_ = true;
    last_ = *resume_after;
    return Resume(absl::StrSplit(*resume_after, '/'));
  }

  absl::StatusOr<bool> Next(FileInfo* entry) override {
    for (;;) {
      if (absl::Status s = DescendIfPending(); !s.ok()) return s;
      if (frames_.empty()) return false;
      Frame& top = frames_.back();
      if (top.next == top.names.size()) {
        frames_.pop_back();
        continue;
      }
      const std::string& name = top.names[top.next++];
      const std::string rel = JoinPath(top.rel, name);
      absl::StatusOr<FileInfo> info = top.dir->Describe(name, JoinPath(start_, rel));
      if (absl::IsNotFound(info.status())) continue;  // Vanished since listing.
      if (!info.ok()) return info.status();
      if (info->type == FileType::kDirectory) pending_child_ = name;
      has_last_ = true;
      last_ = rel;
      *entry = *std::move(info);
      return true;
    }
  }

  std::string Cursor() const override {
    return has_last_ ? EncodeWalkCursor(last_) : std::string();
  }

 private:
  struct Frame {
    std::unique_ptr<WalkDirectory> dir;
    std::string rel;                 // Relative to start_.
    std::vector<std::string> names;  // Sorted listing.
    size_t next = 0;                 // Index of the next name to return.
  };

  absl::Status PushFrame(std::unique_ptr<WalkDirectory> dir, std::string rel) {
    absl::StatusOr<std::vector<std::string>> names = dir->List();
    if (!names.ok()) return names.status();
    std::sort(names->begin(), names->end());
    frames_.push_back(Frame{std::move(dir), std::move(rel), *std::move(names), 0});
    return absl::OkStatus();
  }

  // Enters child `name` of the top frame; *pushed is false if it is no longer a
  // directory (then its contents are skipped).
  absl::Status EnterChild(const std::string& name, bool* pushed) {
    *pushed = false;
    const std::string rel = JoinPath(frames_.back().rel, name);
    absl::StatusOr<std::unique_ptr<WalkDirectory>> child =
        frames_.back().dir->OpenChild(name, JoinPath(start_, rel));
    if (!child.ok()) return child.status();
    if (*child == nullptr) return absl::OkStatus();
    if (absl::Status s = PushFrame(*std::move(child), rel); !s.ok()) return s;
    *pushed = true;
    return absl::OkStatus();
  }

  absl::Status DescendIfPending() {
    if (!pending_child_.has_value()) return absl::OkStatus();
    const std::string name = *std::exchange(pending_child_, std::nullopt);
    bool pushed;
    return EnterChild(name, &pushed);
  }

  // Rebuilds the frames as they were right after `last` (split into names) was returned.
  absl::Status Resume(const std::vector<absl::string_view>& last) {
    for (size_t i = 0; i < last.size(); ++i) {
      Frame& top = frames_.back();
      const std::string name(last[i]);
      auto it = std::upper_bound(top.names.begin(), top.names.end(), name);
      top.next = static_cast<size_t>(it - top.names.begin());
      const bool present = it != top.names.begin() && *(it - 1) == name;
      if (!present) return absl::OkStatus();  // Gone: its subtree is gone too.
      if (i + 1 == last.size()) return MarkPendingIfDirectory(name);
      bool pushed;
      if (absl::Status s = EnterChild(name, &pushed); !s.ok() || !pushed) return s;
    }
    return absl::OkStatus();
  }

  // The last returned entry, if a directory, has had none of its contents returned yet.
  absl::Status MarkPendingIfDirectory(const std::string& name) {
    const std::string path = JoinPath(start_, JoinPath(frames_.back().rel, name));
    absl::StatusOr<FileInfo> info = frames_.back().dir->Describe(name, path);
    if (absl::IsNotFound(info.status())) return absl::OkStatus();
    if (!info.ok()) return info.status();
    if (info->type == FileType::kDirectory) pending_child_ = name;
    return absl::OkStatus();
  }

  const std::string start_;  // Relative to the FileSystem root.
  std::vector<Frame> frames_;
  std::optional<std::string> pending_child_;  // Directory to enter before going on.
  bool has_last_ = false;
  std::string last_;  // Relative to start_.
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
