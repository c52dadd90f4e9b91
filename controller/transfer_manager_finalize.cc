// TransferManager: the finalize phases of a transfer (FinalizePhase in records.proto).
//
// Planning defers two kinds of work to the `deferred` family (planner.h): the further
// names of hard-linked files (LINKS) and the final attributes of directories (DIRS).
// Once listing is complete and no task is open, FinishIfDone calls ContinueFinalizing,
// which moves one wave (at most options_.finalize_wave_tasks tasks) of the current
// phase's entries into queued tasks, deleting them in the same batch; when those tasks
// have ended, the next wave follows. A phase without entries left gives way to the
// next: LINKS -> DIRS -> DONE, and only then does the transfer end. Everything of a
// step (entries deleted, tasks queued, the record's phase and counters) is one batch,
// so a controller killed at any instant resumes where the store says.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "controller/transfer_manager.h"
#include "glog/logging.h"

namespace ferry::controller {
namespace {

FinalizePhase NextPhase(FinalizePhase phase) {
  switch (phase) {
    case FINALIZE_PHASE_UNSPECIFIED:
      return FINALIZE_PHASE_LINKS;
    case FINALIZE_PHASE_LINKS:
      return FINALIZE_PHASE_DIRS;
    default:
      return FINALIZE_PHASE_DONE;
  }
}

// The key just past every entry of `prefix` ("<id>/<phase>/"): '0' follows '/'.
std::string PrefixEnd(const std::string& prefix) {
  return absl::StrCat(prefix.substr(0, prefix.size() - 1), "0");
}

// Where a wave starts: after `taken` (the last entry this batch already took) if any.
// DIRS goes backwards: planning lists depth-first pre-order, so in reverse every
// directory comes after everything below it, and a directory whose mode takes away
// the owner's rights is set after its contents.
void SeekWaveStart(rocksdb::Iterator* it, const std::string& prefix, bool backwards,
                   const std::string* taken) {
  if (!backwards) {
    it->Seek(taken != nullptr ? *taken : prefix);
    if (taken != nullptr && it->Valid() && it->key() == *taken) it->Next();
    return;
  }
  it->SeekForPrev(taken != nullptr ? *taken : PrefixEnd(prefix));
  if (taken != nullptr && it->Valid() && it->key() == *taken) it->Prev();
}

}  // namespace

bool TransferManager::ContinueFinalizing(rocksdb::WriteBatch* batch,
                                         TransferRecord* record) {
  const v1::Transfer& transfer = record->transfer();
  while (record->finalize_phase() != FINALIZE_PHASE_DONE) {
    if (record->finalize_phase() == FINALIZE_PHASE_UNSPECIFIED) {
      // Listing is complete: no name is looked up any more.
      if (transfer.preserve().hard_links()) {
        DeleteTransferRange(batch, store_->Handle(Family::kInodes), transfer.id());
      }
    } else {
      absl::StatusOr<int> queued = QueueFinalizeWave(batch, record);
      if (!queued.ok()) {
        LOG(ERROR) << transfer.id() << ": reading its deferred work: " << queued.status()
                   << "; it ends only after the next restart reads it";
        return true;
      }
      if (*queued > 0) return true;
    }
    record->set_finalize_phase(NextPhase(record->finalize_phase()));
    VLOG(1) << transfer.id() << ": finalize phase "
            << FinalizePhase_Name(record->finalize_phase());
  }
  return false;
}

absl::StatusOr<int> TransferManager::QueueFinalizeWave(rocksdb::WriteBatch* batch,
                                                       TransferRecord* record) {
  const std::string& id = record->transfer().id();
  const FinalizePhase phase = record->finalize_phase();
  const bool links = phase == FINALIZE_PHASE_LINKS;
  const v1::TaskKind kind = links ? v1::TASK_KIND_COPY_FILES : v1::TASK_KIND_FINALIZE_DIRS;
  const PlanLimits& limits = options_.plan_limits;
  const std::string prefix = DeferredPrefix(id, phase);
  auto taken = deferred_taken_.find(id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kDeferred);
  SeekWaveStart(it.get(), prefix, !links, taken == deferred_taken_.end() ? nullptr
                                                                        : &taken->second);
  std::vector<TaskRecord> wave;
  uint64_t bytes_in_task = 0;
  std::string last_taken;
  for (; it->Valid() && it->key().starts_with(prefix); links ? it->Next() : it->Prev()) {
    v1::FileTask file;
    if (!file.ParseFromString(it->value().ToString())) {
      return absl::DataLossError(absl::StrCat("unparsable deferred entry ",
                                              it->key().ToString()));
    }
    // A further name the worker has to copy after all counts against the byte bound.
    const uint64_t bytes = links ? file.length() : 0;
    const bool full = !wave.empty() &&
                      (wave.back().files_size() >= limits.max_files_per_task ||
                       bytes_in_task + bytes > limits.max_bytes_per_task);
    if (wave.empty() || full) {
      if (static_cast<int>(wave.size()) >= options_.finalize_wave_tasks) break;
      wave.push_back(NewTask(record, kind));
      bytes_in_task = 0;
    }
    *wave.back().add_files() = std::move(file);
    bytes_in_task += bytes;
    last_taken = it->key().ToString();
    batch->Delete(store_->Handle(Family::kDeferred), it->key());
  }
  if (!it->status().ok()) return FromRocksStatus(it->status(), "reading deferred work");
  for (TaskRecord& task : wave) EnqueueTask(batch, &task, absl::ZeroDuration());
  record->set_open_tasks(record->open_tasks() + wave.size());
  if (!wave.empty()) {
    deferred_taken_[id] = last_taken;
    last_progress_[id] = clock_->Now();
  }
  return static_cast<int>(wave.size());
}

void TransferManager::ApplyFinalizeResults(rocksdb::WriteBatch* batch,
                                           const v1::TaskReport& report, TaskRecord* task,
                                           TransferRecord* record) {
  google::protobuf::RepeatedPtrField<v1::FileTask> retry;
  absl::Status retry_error;
  for (int i = 0; i < task->files_size(); ++i) {
    const v1::FileTask& directory = task->files(i);
    const absl::Status status =
        i < report.files_size()
            ? absl::Status(static_cast<absl::StatusCode>(report.files(i).code()),
                           report.files(i).message())
            : absl::InternalError("worker reported no result for this directory");
    if (status.ok()) {
      last_progress_[record->transfer().id()] = clock_->Now();
    } else if (IsRetryable(status.code())) {
      *retry.Add() = directory;
      retry_error = status;
    } else {
      FailFinalizedDirectory(directory, status, record);
    }
  }
  if (retry.empty()) {
    task->set_state(TASK_STATE_DONE);
    record->set_open_tasks(record->open_tasks() - 1);
    store_->Put(batch, Family::kTasks, TaskKey(task->transfer_id(), task->seq()), *task);
    return;
  }
  *task->mutable_files() = std::move(retry);
  RetryOrFailTask(batch, task, record, retry_error);
}

void TransferManager::FailFinalizedDirectory(const v1::FileTask& file,
                                             const absl::Status& error,
                                             TransferRecord* record) {
  const std::string& id = record->transfer().id();
  // Its copy failed already (counted, with its error): this is the same failure seen
  // again.
  if (store_->GetRaw(Family::kDeferred, FailedDirectoryKey(id, file.destination_path()))
          .ok()) {
    return;
  }
  AddError(record, error, file.source_path());
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  progress->set_files_done(std::max<int64_t>(0, progress->files_done() - 1));
  progress->set_files_failed(progress->files_failed() + 1);
  const absl::StatusCode code = error.code();
  Notify([code](ManagerObserver& o) { o.FilesFailed(code, 1); });
}

void TransferManager::NoteCopyFailed(rocksdb::WriteBatch* batch, const v1::FileTask& file,
                                     const TransferRecord& record) {
  if (file.source_info().type() != v1::FILE_TYPE_DIRECTORY ||
      !DefersDirectories(record.transfer())) {
    return;
  }
  batch->Put(store_->Handle(Family::kDeferred),
             FailedDirectoryKey(record.transfer().id(), file.destination_path()), "");
}

void TransferManager::DropDeferred(rocksdb::WriteBatch* batch,
                                   const std::string& transfer_id) {
  DeleteTransferRange(batch, store_->Handle(Family::kDeferred), transfer_id);
  DeleteTransferRange(batch, store_->Handle(Family::kInodes), transfer_id);
}

}  // namespace ferry::controller
