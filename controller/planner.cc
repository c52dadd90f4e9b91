#include "controller/planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/location.h"
#include "controller/store.h"
#include "storage/path.h"

namespace ferry::controller {
namespace {

v1::FileTask FileTaskFor(const TransferRecord& record, const v1::FileInfo& entry,
                         uint64_t bytes) {
  v1::FileTask file;
  file.set_source_path(JoinPath(record.transfer().source().path(), entry.path()));
  file.set_destination_path(DestinationPathFor(record.transfer(), entry.path()));
  *file.mutable_source_info() = entry;
  file.set_length(bytes);
  return file;
}

// The chunk tasks of one large file, and its record.
FileRecord PlanChunks(const v1::FileInfo& entry, const PlanLimits& limits,
                      TransferRecord* record, std::vector<TaskRecord>* tasks) {
  FileRecord file;
  file.set_number(record->next_file_number());
  record->set_next_file_number(file.number() + 1);
  *file.mutable_file() = FileTaskFor(*record, entry, entry.size());
  file.mutable_file()->set_temp_path(ChunkTempPath(
      file.file().destination_path(), record->transfer().id(), file.number()));
  const uint64_t chunk_bytes =
      std::max(limits.chunk_bytes, (entry.size() + kMaxChunksPerFile - 1) / kMaxChunksPerFile);
  file.set_chunk_bytes(chunk_bytes);
  file.set_chunk_count((entry.size() + chunk_bytes - 1) / chunk_bytes);
  file.set_first_chunk_seq(record->next_task_seq());
  file.set_open_chunks(file.chunk_count());
  file.set_state(FILE_STATE_COPYING);
  for (uint32_t i = 0; i < file.chunk_count(); ++i) {
    TaskRecord chunk = NewTask(record, v1::TASK_KIND_COPY_CHUNK);
    chunk.set_file_number(file.number());
    chunk.set_chunk_index(i);
    v1::FileTask* range = chunk.add_files();
    *range = file.file();
    range->set_offset(i * chunk_bytes);
    range->set_length(std::min(chunk_bytes, entry.size() - range->offset()));
    tasks->push_back(std::move(chunk));
    file.add_chunk_done(false);
    file.add_chunk_crc32c(0);
  }
  return file;
}

// The first name of `entry`'s inode already planned, when `entry` is a further name of
// a hard-linked file; otherwise records `entry` as the first name if it has links.
std::optional<std::string> LinkTargetOf(const v1::FileInfo& entry,
                                        const TransferRecord& record,
                                        HardLinkIndex* links) {
  const v1::Transfer& transfer = record.transfer();
  if (links == nullptr || transfer.dry_run() || !transfer.preserve().hard_links() ||
      entry.type() != v1::FILE_TYPE_REGULAR || entry.nlink() <= 1 || entry.inode() == 0) {
    return std::nullopt;
  }
  std::optional<std::string> first = links->Find(entry.device(), entry.inode());
  if (!first.has_value()) {
    links->Record(entry.device(), entry.inode(), DestinationPathFor(transfer, entry.path()));
  }
  return first;
}

DeferredEntry Defer(FinalizePhase phase, v1::FileTask file, TransferRecord* record) {
  DeferredEntry deferred;
  deferred.phase = phase;
  deferred.seq = record->next_deferred_seq();
  record->set_next_deferred_seq(deferred.seq + 1);
  deferred.file = std::move(file);
  return deferred;
}

}  // namespace

StoreHardLinkIndex::StoreHardLinkIndex(const Store* store, std::string transfer_id,
                                       rocksdb::WriteBatch* batch)
    : store_(store), transfer_id_(std::move(transfer_id)), batch_(batch) {}

std::optional<std::string> StoreHardLinkIndex::Find(uint64_t device, uint64_t inode) {
  auto recorded = recorded_.find(std::make_pair(device, inode));
  if (recorded != recorded_.end()) return recorded->second;
  InodeRecord first;
  const absl::Status status =
      store_->Get(Family::kInodes, InodeKey(transfer_id_, device, inode), &first);
  if (status.ok()) return first.first_destination_path();
  if (!absl::IsNotFound(status) && status_.ok()) status_ = status;
  return std::nullopt;
}

void StoreHardLinkIndex::Record(uint64_t device, uint64_t inode,
                                const std::string& destination_path) {
  recorded_[std::make_pair(device, inode)] = destination_path;
  InodeRecord first;
  first.set_first_destination_path(destination_path);
  store_->Put(batch_, Family::kInodes, InodeKey(transfer_id_, device, inode), first);
}

TaskRecord NewTask(TransferRecord* record, v1::TaskKind kind) {
  const v1::Transfer& transfer = record->transfer();
  TaskRecord task;
  task.set_transfer_id(transfer.id());
  task.set_seq(record->next_task_seq());
  record->set_next_task_seq(record->next_task_seq() + 1);
  task.set_kind(kind);
  task.set_state(TASK_STATE_QUEUED);
  task.set_priority(transfer.priority());
  task.set_user(transfer.user());
  task.set_transfer_number(record->number());
  return task;
}

bool DefersDirectories(const v1::Transfer& transfer) {
  const v1::PreserveFlags& preserve = transfer.preserve();
  return !transfer.dry_run() && (preserve.mode() || preserve.mtime() || preserve.owner());
}

std::string DestinationPathFor(const v1::Transfer& transfer, const std::string& relative) {
  return JoinPath(transfer.destinations(0).path(), relative);
}

std::string ChunkTempPath(const std::string& destination_path,
                          const std::string& transfer_id, uint64_t file_number) {
  const size_t slash = destination_path.rfind('/');
  const std::string dir = destination_path.substr(0, slash == std::string::npos ? 0 : slash);
  const std::string base = destination_path.substr(slash == std::string::npos ? 0 : slash + 1);
  return absl::StrCat(dir, "/",
                      storage::SharedTempFileName(
                          base, absl::StrCat(transfer_id, "-", file_number)));
}

PlannedEntries PlanEntries(const std::vector<v1::FileInfo>& entries,
                           const PlanLimits& limits, TransferRecord* record,
                           HardLinkIndex* links) {
  PlannedEntries plan;
  std::vector<TaskRecord>& tasks = plan.tasks;
  int open_batch = -1;  // Index in `tasks` of the COPY_FILES task still taking files.
  uint64_t bytes_in_task = 0;
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  const bool defer_directories = DefersDirectories(record->transfer());
  for (const v1::FileInfo& entry : entries) {
    const bool is_regular = entry.type() == v1::FILE_TYPE_REGULAR;
    const uint64_t bytes = is_regular ? entry.size() : 0;
    progress->set_files_total(progress->files_total() + 1);
    if (std::optional<std::string> first = LinkTargetOf(entry, *record, links)) {
      v1::FileTask link = FileTaskFor(*record, entry, bytes);
      link.set_link_target(*std::move(first));
      plan.deferred.push_back(Defer(FINALIZE_PHASE_LINKS, std::move(link), record));
      continue;
    }
    progress->set_bytes_total(progress->bytes_total() + bytes);
    if (defer_directories && entry.type() == v1::FILE_TYPE_DIRECTORY) {
      plan.deferred.push_back(
          Defer(FINALIZE_PHASE_DIRS, FileTaskFor(*record, entry, 0), record));
    }
    if (is_regular && limits.chunk_bytes > 0 && bytes > limits.chunk_bytes) {
      plan.files.push_back(PlanChunks(entry, limits, record, &tasks));
      continue;
    }
    // A file over the byte bound travels alone: entries without bytes (directories,
    // empty files) do not join its task either.
    const bool full = open_batch >= 0 &&
                      (tasks[open_batch].files_size() >= limits.max_files_per_task ||
                       bytes_in_task + bytes > limits.max_bytes_per_task);
    if (open_batch < 0 || full) {
      open_batch = tasks.size();
      tasks.push_back(NewTask(record, v1::TASK_KIND_COPY_FILES));
      bytes_in_task = 0;
    }
    *tasks[open_batch].add_files() = FileTaskFor(*record, entry, bytes);
    bytes_in_task += bytes;
  }
  record->set_open_tasks(record->open_tasks() + tasks.size());
  return plan;
}

}  // namespace ferry::controller
