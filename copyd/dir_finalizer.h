// DirFinalizer: runs TASK_KIND_FINALIZE_DIRS, a transfer's last task, which gives each
// directory of the copy its final attributes once nothing more is created in it (an
// entry created or renamed in a directory changes its mtime, and a directory copied
// read-only must stay writable while it is filled: COPY_FILES creates it 0700 or more).
//
// For each FileTask, in order: destination_path must be an existing directory (NOT_FOUND
// if absent, FAILED_PRECONDITION if something else is there; that entry fails, the
// others go on); it is given source_info's owner when the task preserves owners and
// `can_set_owner` (copyd runs as root), then its mode (source_info.mode when preserved,
// else unchanged) and mtime (source_info.mtime_ns when preserved, else unchanged), the
// owner first because chown may clear set-id bits. Nothing is read from the source.
// Then the attributes are made durable: one SyncFileSystem for a task of several
// directories (as a batched COPY_FILES task does), a SyncDir for one; a failed sync
// fails every entry that had succeeded, so the controller runs the task again (it is
// idempotent). One FileResult per FileTask, in order. An abort stops between
// directories: the report is CANCELLED without results.
//
// Thread safety: one DirFinalizer per thread; `fs` is shared and must outlive it.
#ifndef FERRY_COPYD_DIR_FINALIZER_H_
#define FERRY_COPYD_DIR_FINALIZER_H_

#include <atomic>

#include "absl/status/status.h"
#include "proto/worker_service.pb.h"
#include "storage/file_system.h"

namespace ferry::copyd {

class DirFinalizer {
 public:
  DirFinalizer(storage::FileSystem* fs, bool can_set_owner)
      : fs_(fs), can_set_owner_(can_set_owner) {}

  // `task` must be of TASK_KIND_FINALIZE_DIRS; `abort` may be null.
  v1::TaskReport Execute(const v1::Task& task, const std::atomic<bool>* abort);

 private:
  absl::Status Finalize(const v1::Task& task, const v1::FileTask& dir);

  storage::FileSystem* const fs_;
  const bool can_set_owner_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_DIR_FINALIZER_H_
