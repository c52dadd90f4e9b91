// TransferManager: the transitions of files copied in chunks (see chunk_tracker.h),
// kept apart from the per-task state machine in transfer_manager.cc. Every function
// adds to the caller's batch; the file records it changes reach the batch through
// ChunkTracker when CommitBatch commits it.
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "controller/transfer_manager.h"
#include "glog/logging.h"

namespace ferry::controller {
namespace {

// Copies of a file after the first whose commit found the temporary file corrupt.
constexpr int kMaxRecopies = 1;

absl::Status StatusOf(int32_t code, const std::string& message) {
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

// The listing entry of `file` as its source is now: `source_now` when the worker could
// stat it, else as planned (the copy then finds the change again), under the relative
// path it was listed with.
v1::FileInfo SourceNow(const FileRecord& file, const v1::FileResult& result) {
  const v1::FileInfo& planned = file.file().source_info();
  if (!result.has_source_now()) return planned;
  v1::FileInfo now = result.source_now();
  now.set_path(planned.path());
  return now;
}

// PlanEntries for a file the transfer counted already, with `old_size` bytes: it stays
// one file in files_total, at its size now in bytes_total.
PlannedEntries PlanAgain(const v1::FileInfo& entry, uint64_t old_size,
                         const PlanLimits& limits, TransferRecord* record) {
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  const int64_t files_total = progress->files_total();
  PlannedEntries plan = PlanEntries({entry}, limits, record);
  progress->set_files_total(files_total);
  progress->set_bytes_total(progress->bytes_total() - static_cast<int64_t>(old_size));
  return plan;
}

}  // namespace

FileRecord* TransferManager::FileOf(const TaskRecord& task, TransferRecord* record) {
  absl::StatusOr<FileRecord*> file = chunks_.Load(task);
  if (file.ok()) return *file;
  // Planning writes the record with the tasks, so this is a damaged store: the file
  // cannot be committed; say so rather than let the transfer succeed without it.
  LOG(ERROR) << "file record of task " << TaskKey(task.transfer_id(), task.seq()) << ": "
             << file.status();
  const std::string path = task.files().empty() ? "" : task.files(0).source_path();
  AddError(record, file.status(), path);
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  progress->set_files_failed(progress->files_failed() + 1);
  return nullptr;
}

void TransferManager::ApplyFileStepResult(rocksdb::WriteBatch* batch,
                                          const v1::TaskReport& report, TaskRecord* task,
                                          TransferRecord* record) {
  if (report.files_size() != 1) {
    RetryOrFailTask(batch, task, record,
                    absl::InternalError("worker reported no result for this file"));
    return;
  }
  const v1::FileResult& result = report.files(0);
  const absl::Status status = StatusOf(result.code(), result.message());
  if (!status.ok()) {
    if (result.source_changed() && (task->kind() == v1::TASK_KIND_COPY_CHUNK ||
                                    task->kind() == v1::TASK_KIND_COMMIT_FILE)) {
      ReplanChangedFile(batch, result, task, record);
    } else if (task->kind() == v1::TASK_KIND_COMMIT_FILE && absl::IsDataLoss(status)) {
      RecopyOrFail(batch, task, record, status);
    } else {
      RetryOrFailTask(batch, task, record, status);
    }
    return;
  }
  FileRecord* file = FileOf(*task, record);
  if (file != nullptr && result.skipped()) {
    EndFile(batch, FILE_STATE_SKIPPED, absl::OkStatus(), record, file);
  } else if (file != nullptr && task->kind() == v1::TASK_KIND_COPY_CHUNK) {
    ChunkCopied(batch, result, *task, record, file);
  } else if (file != nullptr && task->kind() == v1::TASK_KIND_COMMIT_FILE) {
    FileCommitted(record, file);
  }
  CloseFileTask(batch, task, TASK_STATE_DONE, record, file);
}

void TransferManager::ChunkCopied(rocksdb::WriteBatch* batch, const v1::FileResult& result,
                                  const TaskRecord& task, TransferRecord* record,
                                  FileRecord* file) {
  if (file->state() != FILE_STATE_COPYING) return;  // Its file ended: just closed.
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  const int64_t bytes = result.bytes();
  progress->set_bytes_done(progress->bytes_done() + bytes);
  Notify([bytes](ManagerObserver& o) { o.FilesDone(0, bytes, false); });
  last_progress_[record->transfer().id()] = clock_->Now();
  if (ChunkTracker::RecordChunk(file, task.chunk_index(), result.crc32c())) {
    AddFileTask(batch, v1::TASK_KIND_COMMIT_FILE, *file, absl::ZeroDuration(), record);
  }
}

void TransferManager::FileCommitted(TransferRecord* record, FileRecord* file) {
  if (file->state() != FILE_STATE_COMMITTING) return;
  file->set_state(FILE_STATE_COMMITTED);
  v1::Transfer* transfer = record->mutable_transfer();
  transfer->mutable_progress()->set_files_done(transfer->progress().files_done() + 1);
  transfer->set_files_verified(transfer->files_verified() + 1);
  Notify([](ManagerObserver& o) { o.FilesDone(1, 0, false); });
  last_progress_[transfer->id()] = clock_->Now();
  LOG(INFO) << transfer->id() << ": committed " << file->file().destination_path() << " ("
            << file->file().length() << " bytes in " << file->chunk_count()
            << " chunks, CRC32C "
            << absl::StrCat(absl::Hex(file->crc32c(), absl::kZeroPad8)) << ")";
}

bool TransferManager::StillWanted(const TaskRecord& task) {
  if (task.kind() != v1::TASK_KIND_COPY_CHUNK && task.kind() != v1::TASK_KIND_COMMIT_FILE) {
    return true;
  }
  absl::StatusOr<FileRecord*> file = chunks_.Load(task);
  if (!file.ok()) return false;
  return (*file)->state() == (task.kind() == v1::TASK_KIND_COPY_CHUNK
                                  ? FILE_STATE_COPYING
                                  : FILE_STATE_COMMITTING);
}

void TransferManager::FailFileStep(rocksdb::WriteBatch* batch, TaskRecord* task,
                                   TransferRecord* record, const absl::Status& error) {
  FileRecord* file = FileOf(*task, record);
  if (file != nullptr && task->kind() == v1::TASK_KIND_CLEANUP) {
    // The file already counted as failed or skipped; only its temporary file stays.
    AddError(record, error, file->file().temp_path());
  } else if (file != nullptr) {
    EndFile(batch, FILE_STATE_FAILED, error, record, file);
  }
  CloseFileTask(batch, task, TASK_STATE_FAILED, record, file);
}

void TransferManager::RecopyOrFail(rocksdb::WriteBatch* batch, TaskRecord* task,
                                   TransferRecord* record, const absl::Status& error) {
  absl::StatusOr<FileRecord*> loaded = chunks_.Load(*task);
  if (!loaded.ok() || (*loaded)->recopies() >= kMaxRecopies ||
      (*loaded)->state() != FILE_STATE_COMMITTING) {
    FailFileStep(batch, task, record, error);
    return;
  }
  FileRecord* file = *loaded;
  task->mutable_last_error()->set_code(static_cast<int32_t>(error.code()));
  task->mutable_last_error()->set_message(ToValidUtf8(error.message()));
  CloseFileTask(batch, task, TASK_STATE_FAILED, record, file);
  AddError(record, error, file->file().source_path());
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  progress->set_retries(progress->retries() + 1);
  // Its chunks' bytes were counted as verified; they are copied again.
  progress->set_bytes_done(progress->bytes_done() - file->file().length());
  Notify([](ManagerObserver& o) { o.TaskRetried(absl::StatusCode::kDataLoss); });
  ChunkTracker::RestartCopy(file);
  for (uint32_t i = 0; i < file->chunk_count(); ++i) {
    const std::string key = TaskKey(task->transfer_id(), file->first_chunk_seq() + i);
    TaskRecord chunk;
    if (absl::Status s = store_->Get(Family::kTasks, key, &chunk); !s.ok()) {
      LOG(ERROR) << "re-copying chunk " << key << ": " << s;  // Stays open: stalls.
      continue;
    }
    chunk.set_attempts(0);  // A new copy, with the whole retry budget.
    chunk.clear_last_error();
    EnqueueTask(batch, &chunk, absl::ZeroDuration());
    record->set_open_tasks(record->open_tasks() + 1);
  }
  LOG(WARNING) << "copying " << file->file().source_path() << " again: " << error;
}

void TransferManager::ReplanChangedFile(rocksdb::WriteBatch* batch,
                                        const v1::FileResult& result, TaskRecord* task,
                                        TransferRecord* record) {
  const absl::Status changed = StatusOf(result.code(), result.message());
  task->mutable_last_error()->set_code(static_cast<int32_t>(changed.code()));
  task->mutable_last_error()->set_message(ToValidUtf8(changed.message()));
  FileRecord* file = FileOf(*task, record);
  if (file == nullptr ||
      (file->state() != FILE_STATE_COPYING && file->state() != FILE_STATE_COMMITTING)) {
    CloseFileTask(batch, task, TASK_STATE_FAILED, record, file);  // Its file ended.
    return;
  }
  const int32_t replans = file->replans() + 1;
  if (replans >= options_.max_attempts) {
    EndFile(batch, FILE_STATE_FAILED,
            absl::FailedPreconditionError(absl::StrCat(
                "source kept changing while it was copied: ", file->file().source_path())),
            record, file);
    CloseFileTask(batch, task, TASK_STATE_FAILED, record, file);
    return;
  }
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  // What its chunks added is copied again under the new plan.
  progress->set_bytes_done(progress->bytes_done() -
                           static_cast<int64_t>(ChunkTracker::BytesDone(*file)));
  progress->set_retries(progress->retries() + 1);
  const absl::StatusCode code = changed.code();
  Notify([code](ManagerObserver& o) { o.TaskRetried(code); });
  last_retry_error_[record->transfer().id()] = ToValidUtf8(changed.message());
  file->set_state(FILE_STATE_REPLANNED);
  DropQueuedChunks(batch, record, file);
  CloseFileTask(batch, task, TASK_STATE_FAILED, record, file);
  MaybeQueueCleanup(batch, record, file);  // A commit task is no chunk: not done above.

  PlannedEntries plan = PlanAgain(SourceNow(*file, result), file->file().length(),
                                  options_.plan_limits, record);
  // Time for a file still being written to settle, as for any retry.
  const absl::Duration delay = RetryBackoff(replans);
  for (TaskRecord& again : plan.tasks) EnqueueTask(batch, &again, delay);
  for (FileRecord& again : plan.files) {
    again.set_replans(replans);
    store_->Put(batch, Family::kFiles, FileKey(record->transfer().id(), again.number()),
                again);
  }
  LOG(WARNING) << record->transfer().id() << ": planning " << file->file().source_path()
               << " again (replan " << replans << " of at most "
               << options_.max_attempts - 1 << "): " << changed;
}

void TransferManager::CloseFileTask(rocksdb::WriteBatch* batch, TaskRecord* task,
                                    TaskState state, TransferRecord* record,
                                    FileRecord* file) {
  task->set_state(state);
  record->set_open_tasks(record->open_tasks() - 1);
  store_->Put(batch, Family::kTasks, TaskKey(task->transfer_id(), task->seq()), *task);
  if (file == nullptr || task->kind() != v1::TASK_KIND_COPY_CHUNK) return;
  file->set_open_chunks(file->open_chunks() - 1);
  MaybeQueueCleanup(batch, record, file);
}

void TransferManager::EndFile(rocksdb::WriteBatch* batch, FileState end,
                              const absl::Status& error, TransferRecord* record,
                              FileRecord* file) {
  if (file->state() != FILE_STATE_COPYING && file->state() != FILE_STATE_COMMITTING) return;
  file->set_state(end);
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  const std::string& path = file->file().source_path();
  if (end == FILE_STATE_FAILED) {
    file->mutable_error()->set_code(static_cast<int32_t>(error.code()));
    file->mutable_error()->set_message(ToValidUtf8(error.message()));
    file->mutable_error()->set_path(path);
    progress->set_files_failed(progress->files_failed() + 1);
    AddError(record, error, path);
    const absl::StatusCode code = error.code();
    Notify([code](ManagerObserver& o) { o.FilesFailed(code, 1); });
  } else {
    progress->set_files_skipped(progress->files_skipped() + 1);
    const int64_t bytes = file->file().length();
    Notify([bytes](ManagerObserver& o) { o.FilesDone(1, bytes, true); });
    last_progress_[record->transfer().id()] = clock_->Now();
  }
  DropQueuedChunks(batch, record, file);
  MaybeQueueCleanup(batch, record, file);
}

void TransferManager::DropQueuedChunks(rocksdb::WriteBatch* batch, TransferRecord* record,
                                       FileRecord* file) {
  const std::string& id = record->transfer().id();
  for (uint32_t i = 0; i < file->chunk_count(); ++i) {
    const std::string key = TaskKey(id, file->first_chunk_seq() + i);
    TaskRecord chunk;
    // A chunk requeued earlier in this batch still reads LEASED here: it runs, and its
    // report just closes it.
    if (!store_->Get(Family::kTasks, key, &chunk).ok() || chunk.state() != TASK_STATE_QUEUED) {
      continue;
    }
    scheduler_.Remove(batch, chunk, &delta_);
    chunk.mutable_last_error()->set_message("not run: its file already ended");
    CloseFileTask(batch, &chunk, TASK_STATE_FAILED, record, file);
  }
}

void TransferManager::MaybeQueueCleanup(rocksdb::WriteBatch* batch, TransferRecord* record,
                                        FileRecord* file) {
  const bool ended = file->state() == FILE_STATE_FAILED ||
                     file->state() == FILE_STATE_SKIPPED ||
                     file->state() == FILE_STATE_REPLANNED;
  if (!ended || file->open_chunks() > 0 || file->cleanup_queued()) return;
  file->set_cleanup_queued(true);
  AddFileTask(batch, v1::TASK_KIND_CLEANUP, *file, absl::ZeroDuration(), record);
}

void TransferManager::AddFileTask(rocksdb::WriteBatch* batch, v1::TaskKind kind,
                                  const FileRecord& file, absl::Duration delay,
                                  TransferRecord* record) {
  TaskRecord task = NewTask(record, kind);
  task.set_file_number(file.number());
  *task.add_files() = kind == v1::TASK_KIND_COMMIT_FILE ? ChunkTracker::CommitFileTask(file)
                                                        : ChunkTracker::CleanupFileTask(file);
  record->set_open_tasks(record->open_tasks() + 1);
  EnqueueTask(batch, &task, delay);
}

void TransferManager::QueueCleanupsForCancel(rocksdb::WriteBatch* batch,
                                             TransferRecord* record) {
  const std::string prefix = absl::StrCat(record->transfer().id(), "/");
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kFiles);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    FileRecord file;
    if (!file.ParseFromString(it->value().ToString())) continue;
    if (file.state() == FILE_STATE_COMMITTED) continue;
    // Also when a cleanup ran or was queued: the cancel dropped queued ones, and a
    // second removal of an absent file is harmless.
    AddFileTask(batch, v1::TASK_KIND_CLEANUP, file, options_.lease_duration, record);
  }
}

}  // namespace ferry::controller
