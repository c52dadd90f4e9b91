// FileCopier: the tasks of a file copied in chunks (see file_copier.h): COPY_CHUNK,
// COMMIT_FILE and CLEANUP, each with exactly one FileTask.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/utf8.h"
#include "common/location.h"
#include "copyd/file_copier.h"
#include "storage/path.h"

namespace ferry::copyd {
namespace {

constexpr uint32_t kDefaultFileMode = 0644;

// The overwrite policy for an existing target, as for a file copied whole on its first
// attempt: true to skip the file, an error for a conflict.
absl::StatusOr<bool> SkipByPolicy(v1::OverwritePolicy policy, const v1::FileTask& file,
                                  const storage::FileInfo& existing) {
  const bool same_size = existing.size == file.source_info().size();
  const int64_t planned_mtime = file.source_info().mtime_ns();
  switch (policy) {
    case v1::OVERWRITE_POLICY_REPLACE:
      return false;
    case v1::OVERWRITE_POLICY_UPDATE:
      return same_size && existing.mtime_ns >= planned_mtime;
    case v1::OVERWRITE_POLICY_SKIP_IDENTICAL:
      return same_size && existing.mtime_ns == planned_mtime;
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "destination exists and the overwrite policy is never: ", file.destination_path()));
  }
}

}  // namespace

absl::StatusOr<FileCopier::ChunkedPaths> FileCopier::ChunkedPathsOf(const v1::FileTask& file) {
  ChunkedPaths paths;
  const auto relative = [](const std::string& path, absl::string_view field,
                           std::string* out) {
    absl::StatusOr<std::string> converted = RootRelativePath(path, field);
    if (converted.ok()) *out = *std::move(converted);
    return converted.status();
  };
  if (absl::Status s = relative(file.source_path(), "source_path", &paths.source); !s.ok()) {
    return s;
  }
  if (absl::Status s = relative(file.destination_path(), "destination_path", &paths.target);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = relative(file.temp_path(), "temp_path", &paths.temp); !s.ok()) return s;
  // Whatever the task says, this worker writes and removes only a ferry temporary file
  // beside the target.
  if (storage::Dirname(paths.temp) != storage::Dirname(paths.target) ||
      !absl::StartsWith(storage::Basename(paths.temp), storage::kTempFilePrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temp_path: not a ferry temporary file beside the destination: ", file.temp_path()));
  }
  return paths;
}

v1::TaskReport FileCopier::ExecuteFileStep(const Context& context) {
  const v1::Task& task = *context.task;
  v1::TaskReport report;
  report.set_task_id(task.task_id());
  report.set_lease_generation(task.lease_generation());
  const auto fail_task = [&report](const absl::Status& status) {
    report.set_code(static_cast<int32_t>(status.code()));
    report.set_message(ToValidUtf8(status.message()));
    return report;
  };
  if (task.kind() != v1::TASK_KIND_COPY_CHUNK && task.kind() != v1::TASK_KIND_COMMIT_FILE &&
      task.kind() != v1::TASK_KIND_CLEANUP) {
    return fail_task(absl::UnimplementedError(absl::StrCat(
        "this copyd cannot run ", v1::TaskKind_Name(task.kind()), " tasks; upgrade it")));
  }
  if (task.files_size() != 1) {
    return fail_task(absl::InvalidArgumentError(
        absl::StrCat(v1::TaskKind_Name(task.kind()), " needs exactly one file")));
  }
  const auto aborted = [&context] {
    return context.abort != nullptr && context.abort->load();
  };
  if (aborted()) return fail_task(absl::CancelledError("task aborted by the controller"));
  const v1::FileTask& file = task.files(0);
  v1::FileResult* result = report.add_files();
  absl::StatusOr<ChunkedPaths> paths = ChunkedPathsOf(file);
  absl::Status status = paths.status();
  if (paths.ok() && task.kind() == v1::TASK_KIND_COPY_CHUNK) {
    status = CopyChunk(context, file, *paths, result);
  } else if (paths.ok() && task.kind() == v1::TASK_KIND_COMMIT_FILE) {
    status = CommitChunkedFile(context, file, *paths, result);
  } else if (paths.ok()) {
    status = fs_->Remove(paths->temp);
    if (absl::IsNotFound(status)) status = absl::OkStatus();
  }
  if (aborted()) {
    report.clear_files();  // Its results are no longer wanted.
    return fail_task(absl::CancelledError("task aborted by the controller"));
  }
  result->set_code(static_cast<int32_t>(status.code()));
  if (!status.ok()) result->set_message(ToValidUtf8(status.message()));
  return report;
}

absl::Status FileCopier::CopyChunk(const Context& context, const v1::FileTask& file,
                                   const ChunkedPaths& paths, v1::FileResult* result) {
  if (absl::Status s = MakeDirsDurably(storage::Dirname(paths.target)); !s.ok()) return s;
  absl::StatusOr<storage::FileInfo> existing = fs_->Stat(paths.target);
  if (existing.ok()) {
    absl::StatusOr<bool> skip = SkipByPolicy(context.task->overwrite(), file, *existing);
    if (!skip.ok()) return skip.status();
    if (*skip) {
      result->set_skipped(true);
      return absl::OkStatus();
    }
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  const uint64_t offset = file.offset(), length = file.length();
  if (offset > file.source_info().size() || length > file.source_info().size() - offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk [", offset, ", +", length, ") lies beyond the planned size of ",
        file.source_path()));
  }
  // Checked before the temporary file exists, so a changed source creates nothing.
  absl::StatusOr<storage::FileInfo> before = context.source->Stat(file, paths.source);
  if (!before.ok()) return before.status();
  if (absl::Status s = CheckPlannedStat(*before, file, "size or mtime differs"); !s.ok()) {
    return s;
  }
  // Created by whichever chunk comes first; the others write the same file.
  absl::StatusOr<std::unique_ptr<storage::WritableFile>> temp =
      fs_->OpenOrCreateForWrite(paths.temp);
  if (!temp.ok()) return temp.status();
  // Checks the planned stat again before and after the read.
  absl::StatusOr<uint32_t> crc = CopyRange(context, file, paths.source, **temp, offset, length);
  if (!crc.ok()) return crc.status();
  // No fsync: the commit syncs the whole file once, after it has verified it; the disk
  // starts on this chunk now, while the other chunks still arrive.
  if (absl::Status s = (*temp)->StartWriteback(offset, length); !s.ok()) return s;
  if (absl::Status s = (*temp)->Close(); !s.ok()) return s;
  result->set_crc32c(*crc);
  result->set_bytes(file.length());
  return absl::OkStatus();
}

absl::Status FileCopier::CommitChunkedFile(const Context& context, const v1::FileTask& file,
                                           const ChunkedPaths& paths,
                                           v1::FileResult* result) {
  const v1::Task& task = *context.task;
  if (!file.has_expected_crc32c()) {
    return absl::InvalidArgumentError("expected_crc32c: required to commit a chunked file");
  }
  const uint64_t size = file.source_info().size();
  absl::StatusOr<storage::FileInfo> source = context.source->Stat(file, paths.source);
  if (!source.ok()) return source.status();
  if (absl::Status s = CheckPlannedStat(*source, file, "size or mtime differs"); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<storage::WritableFile>> temp = fs_->OpenForWrite(paths.temp);
  if (absl::IsNotFound(temp.status())) return CheckAlreadyCommitted(file, paths, result);
  if (!temp.ok()) return temp.status();
  // The chunks cover [0, size); nothing else bounds the file's length.
  if (absl::Status s = (*temp)->Truncate(size); !s.ok()) return s;
  // Whatever the chunks did not start yet is written while the read-back runs.
  if (absl::Status s = (*temp)->StartWriteback(0, 0); !s.ok()) return s;
  absl::StatusOr<uint32_t> crc = CrcOfFile(paths.temp, size);
  if (!crc.ok()) return crc.status();
  if (*crc != file.expected_crc32c()) {
    return absl::DataLossError(absl::StrCat(
        "CRC32C of the chunks written for ", file.destination_path(), " is ", *crc,
        ", the chunks reported ", file.expected_crc32c(), "; not committed"));
  }
  if (absl::Status s = ApplyOwner(task, paths.temp, file.source_info()); !s.ok()) return s;
  const uint32_t mode = task.preserve().mode() ? file.source_info().mode() : kDefaultFileMode;
  const int64_t mtime = task.preserve().mtime() ? file.source_info().mtime_ns()
                                                : absl::ToUnixNanos(clock_->Now());
  if (absl::Status s = fs_->SetModeAndMtime(paths.temp, mode, mtime); !s.ok()) return s;
  // After the attributes, so that the fsync makes them durable with the data.
  if (absl::Status s = (*temp)->Sync(); !s.ok()) return s;
  if (absl::Status s = (*temp)->Close(); !s.ok()) return s;
  if (absl::Status s = Commit(task, paths.temp, paths.target); !s.ok()) return s;
  result->set_crc32c(*crc);
  result->set_bytes(size);
  return absl::OkStatus();
}

absl::Status FileCopier::CheckAlreadyCommitted(const v1::FileTask& file,
                                               const ChunkedPaths& paths,
                                               v1::FileResult* result) {
  // No temporary file: an earlier attempt of this commit renamed it into place and its
  // report was lost (or something removed it). The target is ours if it has exactly
  // the content the chunks reported.
  const uint64_t size = file.source_info().size();
  const absl::Status missing = absl::DataLossError(absl::StrCat(
      "temporary file of ", file.destination_path(), " is missing; not committed"));
  absl::StatusOr<storage::FileInfo> target = fs_->Stat(paths.target);
  if (!target.ok() || target->type != storage::FileType::kRegular || target->size != size) {
    return missing;
  }
  absl::StatusOr<uint32_t> crc = CrcOfFile(paths.target, size);
  if (!crc.ok() || *crc != file.expected_crc32c()) return missing;
  // The earlier attempt may have died between its rename and the directory's fsync.
  if (absl::Status s = fs_->SyncDir(storage::Dirname(paths.target)); !s.ok()) return s;
  result->set_crc32c(*crc);
  result->set_bytes(size);
  return absl::OkStatus();
}

}  // namespace ferry::copyd
