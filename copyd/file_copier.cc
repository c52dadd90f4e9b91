#include "copyd/file_copier.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/location.h"
#include "common/source_changed.h"
#include "common/utf8.h"
#include "copyd/data_service.h"
#include "copyd/dir_finalizer.h"
#include "copyd/extent_cursor.h"
#include "glog/logging.h"
#include "storage/path.h"

namespace ferry::copyd {
namespace {

constexpr uint32_t kDefaultFileMode = 0644;
constexpr uint32_t kDefaultDirectoryMode = 0755;

// Fills `result` from `status`, naming the file.
void SetOutcome(const absl::Status& status, v1::FileResult* result) {
  result->set_code(static_cast<int32_t>(status.code()));
  if (!status.ok()) result->set_message(ToValidUtf8(status.message()));
}

// The conflict an existing destination is under the "never" overwrite policy.
absl::Status NeverReplaces(absl::string_view destination_path) {
  return absl::FailedPreconditionError(absl::StrCat(
      "destination exists and the overwrite policy is never: ", destination_path));
}

storage::CommitMode CommitModeOf(const v1::Task& task) {
  return task.overwrite() == v1::OVERWRITE_POLICY_NEVER ||
                 task.overwrite() == v1::OVERWRITE_POLICY_UNSPECIFIED
             ? storage::CommitMode::kNoReplace
             : storage::CommitMode::kReplace;
}

// Removes a temporary file when the commit did not happen.
class TempFileGuard {
 public:
  TempFileGuard(storage::FileSystem* fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  ~TempFileGuard() {
    if (!path_.empty()) fs_->Remove(path_).IgnoreError();  // Best effort; orphans are swept.
  }
  void Release() { path_.clear(); }

 private:
  storage::FileSystem* fs_;
  std::string path_;
};

}  // namespace

FileCopier::FileCopier(storage::FileSystem* fs, const Clock* clock, CopierOptions options,
                       DataChannels* channels)
    : fs_(fs),
      clock_(clock),
      options_(options),
      channels_(channels),
      buffer_(options.block_size) {}

v1::TaskReport FileCopier::Execute(const v1::Task& task, const std::atomic<bool>* abort,
                                   std::atomic<int64_t>* bytes_done) {
  v1::TaskReport report;
  report.set_task_id(task.task_id());
  report.set_lease_generation(task.lease_generation());
  known_dirs_.clear();  // Only this task's own checks are trusted.
  if (task.preserve().owner() && !options_.can_set_owner &&
      task.kind() != v1::TASK_KIND_COPY_CHUNK && task.kind() != v1::TASK_KIND_CLEANUP) {
    LOG(INFO) << "task " << task.task_id()
              << ": owners are not preserved, this copyd does not run as root";
  }
  // Reads nothing from the source, wherever it is.
  if (task.kind() == v1::TASK_KIND_FINALIZE_DIRS) {
    return DirFinalizer(fs_, options_.can_set_owner).Execute(task, abort);
  }
  const bool remote = !task.source_data_addresses().empty();
  if (remote && channels_ == nullptr) {
    report.set_code(static_cast<int32_t>(absl::StatusCode::kFailedPrecondition));
    report.set_message(absl::StrCat("source cluster '", task.source_cluster(),
                                    "': this copyd cannot read other clusters"));
    return report;
  }
  LocalChunkSource local(fs_, &buffer_, options_.local_copy_piece);
  RemoteChunkSource pulled(channels_, &task.source_data_addresses(), &block_);
  ChunkSource* source = remote ? static_cast<ChunkSource*>(&pulled) : &local;
  // Before anything is streamed: a file to be linked is not read.
  std::vector<absl::StatusOr<std::string>> links;
  if (task.kind() == v1::TASK_KIND_COPY_FILES) links = DecideLinks(task);
  absl::flat_hash_set<const v1::FileTask*> absent_targets;
  std::optional<BatchedRemoteSource> batched;
  if (remote && task.kind() == v1::TASK_KIND_COPY_FILES) {
    std::vector<const v1::FileTask*> whole = FilesToStream(task, links, &absent_targets);
    if (whole.size() > 1) {
      // Spreads the tasks of one transfer over the source cluster's copyds.
      const std::string& address = task.source_data_addresses(
          absl::Hash<std::string>()(task.task_id()) % task.source_data_addresses_size());
      batched.emplace(&pulled, channels_, address, std::move(whole), &block_);
      source = &*batched;
    }
  }
  std::vector<PendingCommit> pending;
  ThrottledChunkSource throttled(source, remote ? options_.rate_limiter : nullptr,
                                 task.flow_group());
  Context context{&task, abort, bytes_done, &throttled};
  context.links = &links;
  context.absent_targets = &absent_targets;
  if (task.kind() != v1::TASK_KIND_COPY_FILES) return ExecuteFileStep(context);
  // Many small files: one syncfs before the renames and one after beat an fsync of
  // every file and directory by far (rsync -a + sync is the yardstick).
  if (task.files_size() > 1) context.pending = &pending;
  const auto aborted = [abort] { return abort != nullptr && abort->load(); };
  for (const v1::FileTask& file : task.files()) {
    if (aborted()) break;
    *report.add_files() = CopyOne(context, file, report.files_size());
  }
  if (context.pending != nullptr) {
    if (!aborted()) {
      CommitPending(context, &report);
    } else {
      // Copied but never renamed: nothing else would remove them before the sweep.
      for (const PendingCommit& commit : pending) fs_->Remove(commit.temp).IgnoreError();
    }
  }
  // Also when the abort stopped the last file: the task's results are no longer wanted.
  if (aborted()) {
    report.clear_files();
    report.set_code(static_cast<int32_t>(absl::StatusCode::kCancelled));
    report.set_message("task aborted by the controller");
  }
  return report;
}

std::vector<const v1::FileTask*> FileCopier::FilesToStream(
    const v1::Task& task, const std::vector<absl::StatusOr<std::string>>& links,
    absl::flat_hash_set<const v1::FileTask*>* absent_targets) {
  std::vector<const v1::FileTask*> files;
  for (int i = 0; i < task.files_size(); ++i) {
    const v1::FileTask& file = task.files(i);
    if (file.source_info().type() != v1::FILE_TYPE_REGULAR) continue;
    if (!links[i].ok() || !links[i]->empty()) continue;  // Linked or failing: not read.
    absl::StatusOr<std::string> target =
        RootRelativePath(file.destination_path(), "destination_path");
    if (!target.ok()) continue;
    // A target that exists may be kept by the overwrite policy: such files are read on
    // their own if at all, so that a sync of mostly unchanged files reads only changes.
    if (task.overwrite() != v1::OVERWRITE_POLICY_REPLACE) {
      if (!absl::IsNotFound(fs_->Stat(*target).status())) continue;
      absent_targets->insert(&file);
    }
    files.push_back(&file);
  }
  return files;
}

void FileCopier::CommitPending(const Context& context, v1::TaskReport* report) {
  const absl::Status data_synced =
      context.pending->empty() ? absl::OkStatus() : fs_->SyncFileSystem();
  for (const PendingCommit& commit : *context.pending) {
    absl::Status status = data_synced;
    if (status.ok()) status = Commit(*context.task, commit.temp, commit.target, false);
    if (status.ok()) continue;
    fs_->Remove(commit.temp).IgnoreError();  // Best effort; orphans are swept.
    v1::FileResult* result = report->mutable_files(commit.result_index);
    result->Clear();
    SetOutcome(status, result);
  }
  context.pending->clear();
  // Also makes directories and symlinks of the task durable.
  const absl::Status names_synced = fs_->SyncFileSystem();
  if (names_synced.ok()) return;
  for (v1::FileResult& result : *report->mutable_files()) {
    if (result.code() != 0 || result.skipped()) continue;
    result.Clear();
    SetOutcome(names_synced, &result);
  }
}

v1::FileResult FileCopier::CopyOne(const Context& context, const v1::FileTask& file,
                                   int result_index) {
  v1::FileResult result;
  absl::StatusOr<std::string> source = RootRelativePath(file.source_path(), "source_path");
  absl::StatusOr<std::string> target =
      RootRelativePath(file.destination_path(), "destination_path");
  absl::Status status = source.ok() ? target.status() : source.status();
  const v1::FileType type = file.source_info().type();
  if (status.ok() && context.task->attempt() > 1 &&
      (type == v1::FILE_TYPE_REGULAR || type == v1::FILE_TYPE_SYMLINK)) {
    RemoveStaleTemps(*target);
  }
  if (status.ok()) {
    switch (type) {
      case v1::FILE_TYPE_REGULAR: {
        const absl::StatusOr<std::string>& link = (*context.links)[result_index];
        if (!link.ok()) {
          status = link.status();
        } else if (link->empty()) {
          status = CopyRegular(context, file, *source, *target, result_index, &result);
        } else {
          status = LinkRegular(context, file, *source, *link, *target, result_index, &result);
        }
        break;
      }
      case v1::FILE_TYPE_DIRECTORY:
        status = CopyDirectory(context, file, *target);
        break;
      case v1::FILE_TYPE_SYMLINK: {
        absl::StatusOr<Overwrite> overwrite =
            CheckOverwrite(context, file, *source, *target, &result);
        status = overwrite.status();
        if (overwrite.ok() && *overwrite == Overwrite::kCopy) {
          status = CopySymlink(context, file, *target);
        }
        break;
      }
      default:
        result.set_skipped(true);
        result.set_message("not a regular file, directory or symlink; skipped");
        return result;
    }
  }
  SetOutcome(status, &result);
  if (IsSourceChanged(status) && source.ok()) {
    // A retry copies the source as it is now.
    result.set_source_changed(true);
    absl::StatusOr<storage::FileInfo> now = context.source->Stat(file, *source);
    if (now.ok()) *result.mutable_source_now() = ToProtoFileInfo(*now, "");
  }
  return result;
}

absl::StatusOr<FileCopier::Overwrite> FileCopier::CheckOverwrite(
    const Context& context, const v1::FileTask& file, const std::string& source,
    const std::string& target, v1::FileResult* result) {
  const v1::Task& task = *context.task;
  // Just looked up by FilesToStream: a target created since meets the commit's rename
  // (no-replace under "never"), as one created after this check would.
  if (context.absent_targets != nullptr && context.absent_targets->contains(&file)) {
    return Overwrite::kCopy;
  }
  absl::StatusOr<storage::FileInfo> existing = fs_->Stat(target);
  if (absl::IsNotFound(existing.status())) return Overwrite::kCopy;
  if (!existing.ok()) return existing.status();
  const v1::FileInfo& planned = file.source_info();
  const bool same_size = existing->size == planned.size();
  const auto skip = [result] {
    result->set_skipped(true);
    return Overwrite::kSkip;
  };
  switch (task.overwrite()) {
    case v1::OVERWRITE_POLICY_REPLACE:
      return Overwrite::kCopy;
    case v1::OVERWRITE_POLICY_UPDATE:
      if (same_size && existing->mtime_ns >= planned.mtime_ns()) return skip();
      return Overwrite::kCopy;
    case v1::OVERWRITE_POLICY_SKIP_IDENTICAL:
      if (same_size && existing->mtime_ns == planned.mtime_ns()) return skip();
      return Overwrite::kCopy;
    default:
      break;
  }
  // "never". A retried attempt may meet the target an earlier attempt of this same
  // task committed: the file was renamed into place, then the controller died, or the
  // worker did, or the lease expired, before the task's report was recorded, so the
  // controller leased the whole task again. Refusing it would fail a file this transfer
  // copied itself (and with it the transfer). A complete copy of the source is
  // therefore counted as copied; on a first attempt an existing target is always a
  // conflict. (A retry cannot tell its own commit from an identical file that was there
  // before; either way nothing is replaced, which is what "never" promises.)
  if (task.attempt() > 1) {
    absl::StatusOr<bool> copied =
        IsCompleteCopy(context, file, source, target, *existing, result);
    if (!copied.ok()) return copied.status();
    if (*copied) return Overwrite::kAlreadyCopied;
  }
  return NeverReplaces(file.destination_path());
}

absl::StatusOr<bool> FileCopier::IsCompleteCopy(const Context& context,
                                                const v1::FileTask& file,
                                                const std::string& source,
                                                const std::string& target,
                                                const storage::FileInfo& existing,
                                                v1::FileResult* result) {
  const v1::FileInfo& planned = file.source_info();
  if (planned.type() == v1::FILE_TYPE_SYMLINK) {
    return existing.type == storage::FileType::kSymlink &&
           existing.symlink_target == planned.symlink_target();
  }
  if (existing.type != storage::FileType::kRegular || existing.size != planned.size() ||
      (context.task->preserve().mtime() && existing.mtime_ns != planned.mtime_ns())) {
    return false;
  }
  absl::StatusOr<storage::FileInfo> now = context.source->Stat(file, source);
  if (!now.ok()) return now.status();
  if (now->size != planned.size() || now->mtime_ns != planned.mtime_ns()) return false;
  absl::StatusOr<uint32_t> source_crc =
      context.source->Read(file, source, 0, planned.size(), context.abort,
                           [](uint64_t, absl::string_view) { return absl::OkStatus(); });
  if (!source_crc.ok()) return source_crc.status();
  absl::StatusOr<uint32_t> target_crc = CrcOfFile(target, planned.size());
  if (!target_crc.ok()) return target_crc.status();
  if (*source_crc != *target_crc) return false;
  result->set_crc32c(*target_crc);
  result->set_bytes(planned.size());
  return true;
}

void FileCopier::RemoveStaleTemps(const std::string& target) {
  // Nothing else removes these: TempFileGuard dies with a killed worker, and a sweep of
  // the whole root at start could not tell a dead worker's file from a live one's. A
  // retry runs after the earlier attempts' leases ended, so a file matched here is of
  // no attempt whose work can still count: at worst a stale lease holder that is still
  // running loses its temporary file and its commit fails, as its report would be
  // refused anyway.
  const std::string dir(storage::Dirname(target));
  const std::string base(storage::Basename(target));
  const std::string prefix = absl::StrCat(storage::kTempFilePrefix, base, ".");
  // Only TempFileName's random names (<prefix><16 hex digits>), which belong to one
  // attempt each; never a shared temporary file that several writers fill by name.
  constexpr size_t kHexDigits = 16;
  // A name cut to fit the name length limit could match other targets' files.
  if (storage::TempFileName(base, 0).size() != prefix.size() + kHexDigits) return;
  // Names come in sorted order: start the walk right before the first possible match.
  absl::StatusOr<std::unique_ptr<storage::DirectoryWalker>> walker =
      fs_->Walk(dir, storage::EncodeWalkCursor(prefix));
  if (!walker.ok()) return;
  storage::FileInfo entry;
  for (;;) {
    absl::StatusOr<bool> more = (*walker)->Next(&entry);
    if (!more.ok() || !*more || storage::Dirname(entry.path) != dir) return;
    const absl::string_view name = storage::Basename(entry.path);
    if (!absl::StartsWith(name, prefix)) return;
    const absl::string_view suffix = name.substr(prefix.size());
    if (suffix.size() == kHexDigits && entry.type != storage::FileType::kDirectory &&
        std::all_of(suffix.begin(), suffix.end(), absl::ascii_isxdigit)) {
      fs_->Remove(entry.path).IgnoreError();
    }
  }
}

absl::Status FileCopier::CopyRegular(const Context& context, const v1::FileTask& file,
                                     const std::string& source, const std::string& target,
                                     int result_index, v1::FileResult* result) {
  const v1::Task& task = *context.task;
  const bool batched = context.pending != nullptr;
  absl::StatusOr<Overwrite> overwrite = CheckOverwrite(context, file, source, target, result);
  if (!overwrite.ok() || *overwrite != Overwrite::kCopy) return overwrite.status();
  if (absl::Status s = MakeDirsDurably(storage::Dirname(target), !batched); !s.ok()) return s;
  const v1::FileInfo& planned = file.source_info();
  absl::StatusOr<storage::TempFile> temp = fs_->CreateTemp(target);
  if (!temp.ok()) return temp.status();
  TempFileGuard guard(fs_, temp->path);
  // Checks the planned stat before and after the read.
  absl::StatusOr<uint32_t> crc =
      CopyRange(context, file, source, *temp->file, 0, planned.size());
  if (!crc.ok()) return crc.status();
  // A sparse source ending in a hole: nothing was written there.
  if (absl::Status s = temp->file->Truncate(planned.size()); !s.ok()) return s;
  if (options_.verify_after_write) {
    absl::StatusOr<uint32_t> written = CrcOfFile(temp->path, planned.size());
    if (!written.ok()) return written.status();
    if (*written != *crc) {
      return absl::DataLossError(absl::StrCat("CRC32C mismatch after write of ",
                                              file.destination_path(), ": source ", *crc,
                                              ", written ", *written));
    }
  }
  if (absl::Status s = ApplyOwner(task, temp->path, planned); !s.ok()) return s;
  const uint32_t mode = task.preserve().mode() ? planned.mode() : kDefaultFileMode;
  const int64_t mtime = task.preserve().mtime() ? planned.mtime_ns()
                                                : absl::ToUnixNanos(clock_->Now());
  if (absl::Status s = fs_->SetModeAndMtime(temp->path, mode, mtime); !s.ok()) return s;
  // After the attributes, so that the fsync makes them durable with the data.
  if (!batched) {
    if (absl::Status s = temp->file->Sync(); !s.ok()) return s;
  }
  if (absl::Status s = temp->file->Close(); !s.ok()) return s;
  if (batched) {
    context.pending->push_back({result_index, temp->path, target});
  } else if (absl::Status s = Commit(task, temp->path, target); !s.ok()) {
    return s;
  }
  guard.Release();
  result->set_crc32c(*crc);
  result->set_bytes(planned.size());
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> FileCopier::CopyRange(const Context& context,
                                               const v1::FileTask& file,
                                               const std::string& source,
                                               storage::WritableFile& temp, uint64_t offset,
                                               uint64_t length) {
  return context.source->CopyInto(file, source, offset, length, context.abort,
                                  context.bytes_done, temp);
}

absl::StatusOr<uint32_t> FileCopier::CrcOfFile(const std::string& path, uint64_t size) {
  if (size < options_.parallel_verify_above) return CrcOfRange(path, 0, size, &buffer_);
  // A large file's read-back is the commit's critical path while the other cores idle
  // (every chunk is done): its second half is read on a second thread.
  const uint64_t half = size / 2;
  if (second_buffer_.empty()) second_buffer_.resize(buffer_.size());
  absl::StatusOr<uint32_t> second;
  std::thread helper(
      [&] { second = CrcOfRange(path, half, size, &second_buffer_); });
  absl::StatusOr<uint32_t> first = CrcOfRange(path, 0, half, &buffer_);
  helper.join();
  if (!first.ok()) return first.status();
  if (!second.ok()) return second.status();
  return Crc32cCombine(*first, *second, size - half);
}

absl::StatusOr<uint32_t> FileCopier::CrcOfRange(const std::string& path, uint64_t offset,
                                                uint64_t end, std::vector<char>* buffer) {
  absl::StatusOr<std::unique_ptr<storage::ReadableFile>> file = fs_->OpenForRead(path);
  if (!file.ok()) return file.status();
  uint32_t crc = kCrc32cEmpty;
  // Reads [at, at + length) (at most one buffer) into the CRC.
  const auto add_data = [&](uint64_t at, uint64_t length) -> absl::Status {
    absl::StatusOr<size_t> got = (*file)->ReadAt(at, buffer->data(), length);
    if (!got.ok()) return got.status();
    if (*got != length) return absl::DataLossError(absl::StrCat("short temporary file ", path));
    crc = Crc32cExtend(crc, buffer->data(), length);
    return absl::OkStatus();
  };
  if (end - offset <= buffer->size()) {
    // One read: a hole reads as zeros, which is its CRC too; no extent walk (two lseeks)
    // for each of many small files.
    if (absl::Status s = add_data(offset, end - offset); !s.ok()) return s;
    return crc;
  }
  ExtentCursor cursor(file->get(), offset, end);
  ExtentCursor::Piece piece;
  for (;;) {
    absl::StatusOr<bool> more = cursor.Next(buffer->size(), &piece);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (piece.hole) {
      crc = Crc32cCombine(crc, Crc32cOfZeros(piece.length), piece.length);
    } else if (absl::Status s = add_data(piece.offset, piece.length); !s.ok()) {
      return s;
    }
  }
  return crc;
}

absl::Status FileCopier::ApplyOwner(const v1::Task& task, const std::string& path,
                                    const v1::FileInfo& planned) {
  if (!task.preserve().owner() || !options_.can_set_owner) return absl::OkStatus();
  return fs_->SetOwner(path, planned.uid(), planned.gid());
}

absl::Status FileCopier::Commit(const v1::Task& task, const std::string& temp,
                                const std::string& target, bool sync_dir) {
  const storage::CommitMode mode = CommitModeOf(task);
  absl::Status renamed = fs_->Rename(temp, target, mode);
  if (absl::IsFailedPrecondition(renamed) && mode == storage::CommitMode::kNoReplace) {
    return NeverReplaces(absl::StrCat("/", target));
  }
  if (!renamed.ok() || !sync_dir) return renamed;
  return fs_->SyncDir(storage::Dirname(target));
}

absl::Status FileCopier::CopyDirectory(const Context& context, const v1::FileTask& file,
                                       const std::string& target) {
  const v1::Task& task = *context.task;
  const bool batched = context.pending != nullptr;
  absl::StatusOr<storage::FileInfo> existing = fs_->Stat(target);
  if (existing.ok() && existing->type != storage::FileType::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat("destination exists and is not a directory: ", file.destination_path()));
  }
  if (absl::Status s = MakeDirsDurably(target, !batched); !s.ok()) return s;
  if (!task.preserve().mode()) return absl::OkStatus();
  // The owner keeps write and search rights while the copy fills the directory.
  // Directory mtimes change as entries arrive, so only the mode is set here.
  absl::StatusOr<storage::FileInfo> created = fs_->Stat(target);
  if (!created.ok()) return created.status();
  if (absl::Status s =
          fs_->SetModeAndMtime(target, file.source_info().mode() | 0700, created->mtime_ns);
      !s.ok()) {
    return s;
  }
  if (batched) return absl::OkStatus();
  return fs_->SyncDir(target);  // Makes the mode durable.
}

absl::Status FileCopier::MakeDirsDurably(absl::string_view dir, bool sync) {
  if (known_dirs_.contains(dir)) return absl::OkStatus();
  absl::Status made = MakeDirsDurablyUncached(dir, sync);
  if (made.ok()) known_dirs_.emplace(dir);
  return made;
}

absl::Status FileCopier::MakeDirsDurablyUncached(absl::string_view dir, bool sync) {
  // The directories to create: `dir` and its missing ancestors, deepest first.
  std::vector<std::string> missing;
  for (std::string path(dir);; path = std::string(storage::Dirname(path))) {
    absl::StatusOr<storage::FileInfo> info = fs_->Stat(path);
    if (info.ok()) break;  // MakeDirs reports one that is not a directory.
    if (!absl::IsNotFound(info.status())) return info.status();
    missing.push_back(path);
    if (path.empty()) break;
  }
  if (missing.empty()) return absl::OkStatus();
  if (absl::Status s = fs_->MakeDirs(dir, kDefaultDirectoryMode); !s.ok()) return s;
  if (!sync) return absl::OkStatus();
  // A new directory survives a crash once the directory holding its entry is synced.
  for (const std::string& created : missing) {
    if (absl::Status s = fs_->SyncDir(storage::Dirname(created)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FileCopier::CopySymlink(const Context& context, const v1::FileTask& file,
                                     const std::string& target) {
  const v1::Task& task = *context.task;
  const bool batched = context.pending != nullptr;
  if (absl::Status s = MakeDirsDurably(storage::Dirname(target), !batched); !s.ok()) return s;
  const std::string temp = TempNameBeside(target);
  if (absl::Status s = fs_->CreateSymlink(file.source_info().symlink_target(), temp); !s.ok()) {
    return s;
  }
  TempFileGuard guard(fs_, temp);
  // lchown: the link itself (its mode is always 0777 and its mtime is not kept).
  if (absl::Status s = ApplyOwner(task, temp, file.source_info()); !s.ok()) return s;
  if (absl::Status s = Commit(task, temp, target, !batched); !s.ok()) return s;
  guard.Release();
  return absl::OkStatus();
}

std::string FileCopier::TempNameBeside(const std::string& target) {
  return storage::JoinPath(
      storage::Dirname(target),
      storage::TempFileName(storage::Basename(target), absl::Uniform<uint64_t>(bitgen_)));
}

std::vector<absl::StatusOr<std::string>> FileCopier::DecideLinks(const v1::Task& task) {
  std::vector<absl::StatusOr<std::string>> links;
  links.reserve(task.files_size());
  for (const v1::FileTask& file : task.files()) links.push_back(LinkSourceOf(task, file));
  return links;
}

absl::StatusOr<std::string> FileCopier::LinkSourceOf(const v1::Task& task,
                                                     const v1::FileTask& file) {
  if (file.link_target().empty() || file.source_info().type() != v1::FILE_TYPE_REGULAR) {
    return std::string();
  }
  absl::StatusOr<std::string> existing = RootRelativePath(file.link_target(), "link_target");
  if (!existing.ok()) return existing.status();
  const v1::FileInfo& planned = file.source_info();
  absl::StatusOr<storage::FileInfo> info = fs_->Stat(*existing);
  std::string why;
  if (absl::IsNotFound(info.status())) {
    why = "it does not exist";
  } else if (!info.ok()) {
    why = std::string(info.status().message());
  } else if (info->type != storage::FileType::kRegular) {
    why = "it is not a regular file";
  } else if (info->size != planned.size()) {
    why = absl::StrCat("it has ", info->size, " bytes, the source ", planned.size());
  } else if (task.preserve().mtime() && info->mtime_ns != planned.mtime_ns()) {
    why = absl::StrCat("its mtime is ", info->mtime_ns, " ns, the source's ",
                       planned.mtime_ns());
  } else {
    return *std::move(existing);
  }
  LOG(INFO) << "task " << task.task_id() << ": copying "
            << storage::PathForMessage(file.destination_path()) << " instead of linking it to "
            << storage::PathForMessage(file.link_target()) << ": " << why;
  return std::string();
}

absl::Status FileCopier::LinkRegular(const Context& context, const v1::FileTask& file,
                                     const std::string& source, const std::string& existing,
                                     const std::string& target, int result_index,
                                     v1::FileResult* result) {
  const bool batched = context.pending != nullptr;
  const auto copy_instead = [&](const absl::Status& why) {
    LOG(INFO) << "task " << context.task->task_id() << ": copying "
              << storage::PathForMessage(file.destination_path()) << " instead of linking it: "
              << why;
    return CopyRegular(context, file, source, target, result_index, result);
  };
  absl::StatusOr<storage::FileInfo> linked_to = fs_->Stat(existing);
  if (absl::IsNotFound(linked_to.status())) return copy_instead(linked_to.status());
  if (!linked_to.ok()) return linked_to.status();
  absl::StatusOr<storage::FileInfo> now = fs_->Stat(target);
  // A retry whose earlier attempt made the link: done, once it is durable.
  const bool linked = now.ok() && now->device == linked_to->device &&
                      now->inode == linked_to->inode;
  if (!linked) {
    absl::StatusOr<Overwrite> overwrite = CheckOverwrite(context, file, source, target, result);
    if (!overwrite.ok() || *overwrite != Overwrite::kCopy) return overwrite.status();
    if (absl::Status s = MakeDirsDurably(storage::Dirname(target), !batched); !s.ok()) return s;
    const bool in_place = CommitModeOf(*context.task) == storage::CommitMode::kNoReplace;
    const std::string name = in_place ? target : TempNameBeside(target);
    const absl::Status made = fs_->Link(existing, name);
    if (in_place && absl::IsAlreadyExists(made)) return NeverReplaces(file.destination_path());
    // Gone since DecideLinks, or as many links as it can have.
    if (absl::IsNotFound(made) || absl::IsFailedPrecondition(made)) return copy_instead(made);
    if (!made.ok()) return made;
    if (!in_place) {
      if (absl::Status s = ReplaceWithLink(*context.task, name, target); !s.ok()) return s;
    }
  }
  // A batched task's last SyncFileSystem makes the new name durable.
  return batched ? absl::OkStatus() : fs_->SyncDir(storage::Dirname(target));
}

absl::Status FileCopier::ReplaceWithLink(const v1::Task& task, const std::string& temp,
                                         const std::string& target) {
  // rename(2) between two names of one inode succeeds without doing anything and leaves
  // `temp` (the target became that inode since it was checked): the guard removes it.
  // After a real rename the name is gone and the guard's NOT_FOUND is ignored.
  TempFileGuard guard(fs_, temp);
  return Commit(task, temp, target, /*sync_dir=*/false);
}

}  // namespace ferry::copyd
