#include "controller/planner.h"

#include "common/location.h"

namespace ferry::controller {
namespace {

TaskRecord NewTask(TransferRecord* record) {
  const v1::Transfer& transfer = record->transfer();
  TaskRecord task;
  task.set_transfer_id(transfer.id());
  task.set_seq(record->next_task_seq());
  record->set_next_task_seq(record->next_task_seq() + 1);
  task.set_kind(v1::TASK_KIND_COPY_FILES);
  task.set_state(TASK_STATE_QUEUED);
  task.set_priority(transfer.priority());
  task.set_user(transfer.user());
  task.set_transfer_number(record->number());
  return task;
}

}  // namespace

std::string DestinationPathFor(const v1::Transfer& transfer, const std::string& relative) {
  return JoinPath(transfer.destinations(0).path(), relative);
}

std::vector<TaskRecord> PlanEntries(const std::vector<v1::FileInfo>& entries,
                                    const PlanLimits& limits, TransferRecord* record) {
  std::vector<TaskRecord> tasks;
  uint64_t bytes_in_task = 0;
  v1::TransferProgress* progress = record->mutable_transfer()->mutable_progress();
  for (const v1::FileInfo& entry : entries) {
    const bool is_regular = entry.type() == v1::FILE_TYPE_REGULAR;
    const uint64_t bytes = is_regular ? entry.size() : 0;
    // A file over the byte bound travels alone: entries without bytes (directories,
    // empty files) do not join its task either.
    const bool full = !tasks.empty() &&
                      (tasks.back().files_size() >= limits.max_files_per_task ||
                       bytes_in_task + bytes > limits.max_bytes_per_task);
    if (tasks.empty() || full) {
      tasks.push_back(NewTask(record));
      bytes_in_task = 0;
    }
    v1::FileTask* file = tasks.back().add_files();
    file->set_source_path(JoinPath(record->transfer().source().path(), entry.path()));
    file->set_destination_path(DestinationPathFor(record->transfer(), entry.path()));
    *file->mutable_source_info() = entry;
    file->set_length(bytes);
    bytes_in_task += bytes;
    progress->set_files_total(progress->files_total() + 1);
    progress->set_bytes_total(progress->bytes_total() + bytes);
  }
  record->set_open_tasks(record->open_tasks() + tasks.size());
  return tasks;
}

}  // namespace ferry::controller
