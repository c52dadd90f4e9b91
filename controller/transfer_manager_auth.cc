// TransferManager's lease-time authorization (issue 7): see task_authorizer.h.
#include "controller/task_authorizer.h"
#include "controller/transfer_manager.h"
#include "glog/logging.h"

namespace ferry::controller {

bool TransferManager::AuthorizeLease(rocksdb::WriteBatch* batch, TaskRecord* task,
                                     TransferRecord* record, v1::Task* leased) {
  if (options_.task_authorizer == nullptr) return true;
  const absl::Status status = options_.task_authorizer->Authorize(record->transfer(), leased);
  if (status.ok() && leased->kind() == v1::TASK_KIND_FINALIZE_DIRS) {
    // Setting a directory's attributes reads nothing from the source: no capability
    // leaves the controller that the task does not need.
    for (v1::FileTask& file : *leased->mutable_files()) file.clear_source_capability();
  }
  if (status.ok()) return true;
  LOG(WARNING) << record->transfer().id() << ": task " << leased->task_id()
               << " not leased: " << status;
  // PERMISSION_DENIED is not retryable: the task's files fail (a chunked file's
  // temporary file is cleaned up as for any failed file). Anything else is a failed
  // attempt.
  RetryOrFailTask(batch, task, record, status);
  FinishIfDone(batch, record);
  PutTransfer(batch, record);
  return false;
}

}  // namespace ferry::controller
