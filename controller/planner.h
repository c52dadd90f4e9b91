// Planning: turns entries of a source listing into copy tasks.
//
// PlanEntries is pure: given the transfer and a page of DataService.List entries it
// returns the tasks to persist, batching small files into multi-file
// TASK_KIND_COPY_FILES tasks (bounded by file count and bytes) so per-file overhead does
// not dominate; a file larger than the byte bound gets a task of its own. Whole-file
// tasks only for now; chunking of large files arrives with the controller issue.
//
// Thread safety: pure functions.
#ifndef FERRY_CONTROLLER_PLANNER_H_
#define FERRY_CONTROLLER_PLANNER_H_

#include <cstdint>
#include <vector>

#include "controller/records.pb.h"
#include "proto/common.pb.h"

namespace ferry::controller {

struct PlanLimits {
  int max_files_per_task = 256;
  uint64_t max_bytes_per_task = 64ull << 20;
};

// Destination path (absolute) of a listing entry whose path is relative to the
// transfer's source path.
std::string DestinationPathFor(const v1::Transfer& transfer, const std::string& relative);

// Plans `entries` (paths relative to the source) into new tasks. Task sequence numbers
// come from `record->next_task_seq`, which is advanced; counters in
// record->transfer().progress() are updated (files_total, bytes_total).
std::vector<TaskRecord> PlanEntries(const std::vector<v1::FileInfo>& entries,
                                    const PlanLimits& limits, TransferRecord* record);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_PLANNER_H_
