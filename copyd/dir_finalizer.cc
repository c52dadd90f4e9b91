#include "copyd/dir_finalizer.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/location.h"
#include "common/utf8.h"

namespace ferry::copyd {
namespace {

void SetCode(const absl::Status& status, v1::FileResult* result) {
  result->set_code(static_cast<int32_t>(status.code()));
  if (!status.ok()) result->set_message(ToValidUtf8(status.message()));
}

}  // namespace

v1::TaskReport DirFinalizer::Execute(const v1::Task& task, const std::atomic<bool>* abort) {
  v1::TaskReport report;
  report.set_task_id(task.task_id());
  report.set_lease_generation(task.lease_generation());
  const auto aborted = [abort] { return abort != nullptr && abort->load(); };
  for (const v1::FileTask& dir : task.files()) {
    if (aborted()) break;
    SetCode(Finalize(task, dir), report.add_files());
  }
  if (aborted()) {
    report.clear_files();  // Its results are no longer wanted.
    report.set_code(static_cast<int32_t>(absl::StatusCode::kCancelled));
    report.set_message("task aborted by the controller");
    return report;
  }
  absl::Status synced = absl::OkStatus();
  if (task.files_size() > 1) {
    synced = fs_->SyncFileSystem();
  } else if (task.files_size() == 1 && report.files(0).code() == 0) {
    // Finalize succeeded, so the path is valid.
    synced = fs_->SyncDir(*RootRelativePath(task.files(0).destination_path(), ""));
  }
  if (synced.ok()) return report;
  for (v1::FileResult& result : *report.mutable_files()) {
    if (result.code() == 0) SetCode(synced, &result);
  }
  return report;
}

absl::Status DirFinalizer::Finalize(const v1::Task& task, const v1::FileTask& dir) {
  absl::StatusOr<std::string> path = RootRelativePath(dir.destination_path(), "destination_path");
  if (!path.ok()) return path.status();
  absl::StatusOr<storage::FileInfo> now = fs_->Stat(*path);
  if (!now.ok()) return now.status();
  if (now->type != storage::FileType::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat("destination is not a directory: ", dir.destination_path()));
  }
  const v1::PreserveFlags& preserve = task.preserve();
  const v1::FileInfo& planned = dir.source_info();
  if (preserve.owner() && can_set_owner_) {
    if (absl::Status s = fs_->SetOwner(*path, planned.uid(), planned.gid()); !s.ok()) return s;
  }
  if (!preserve.mode() && !preserve.mtime()) return absl::OkStatus();
  return fs_->SetModeAndMtime(*path, preserve.mode() ? planned.mode() : now->mode,
                              preserve.mtime() ? planned.mtime_ns() : now->mtime_ns);
}

}  // namespace ferry::copyd
