// Planning: turns entries of a source listing into copy tasks.
//
// PlanEntries is pure: given the transfer and a page of DataService.List entries it
// returns the tasks to persist, batching small files into multi-file
// TASK_KIND_COPY_FILES tasks (bounded by file count and bytes) so per-file overhead does
// not dominate; a file larger than the byte bound gets a task of its own. A regular
// file larger than the chunk size is split into ceil(size / chunk) TASK_KIND_COPY_CHUNK
// tasks (consecutive sequence numbers) that write one shared temporary file beside the
// target, and gets a FileRecord for the chunk bookkeeping (chunk_tracker.h).
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
  // Regular files larger than this are copied in chunks of this size, or larger ones
  // for a file that would otherwise have more than kMaxChunksPerFile chunks; 0 copies
  // every file whole.
  uint64_t chunk_bytes = 64ull << 20;
};

// Bounds a FileRecord (one done flag and CRC per chunk, rewritten as each chunk ends) to
// about 50 KB: a huge file gets fewer, larger chunks. The composite CRC32C does not
// depend on the chunk size.
inline constexpr uint64_t kMaxChunksPerFile = 10000;

struct PlannedEntries {
  std::vector<TaskRecord> tasks;
  // One per chunked file, to be stored under FileKey(transfer id, number).
  std::vector<FileRecord> files;
};

// A new QUEUED task of `kind` for the transfer, with the next sequence number (which
// is advanced); open_tasks is the caller's to count.
TaskRecord NewTask(TransferRecord* record, v1::TaskKind kind);

// The temporary file the chunks of file `file_number` share, beside the target
// `destination_path` (absolute): "<dir>/.ferry-tmp.<base, cut>.<transfer id>-<number>".
std::string ChunkTempPath(const std::string& destination_path,
                          const std::string& transfer_id, uint64_t file_number);

// Destination path (absolute) of a listing entry whose path is relative to the
// transfer's source path.
std::string DestinationPathFor(const v1::Transfer& transfer, const std::string& relative);

// Plans `entries` (paths relative to the source) into new tasks. Task sequence numbers
// come from `record->next_task_seq` and file numbers from `record->next_file_number`,
// which are advanced; open_tasks and the counters in record->transfer().progress()
// (files_total, a chunked file once; bytes_total) are updated.
PlannedEntries PlanEntries(const std::vector<v1::FileInfo>& entries,
                           const PlanLimits& limits, TransferRecord* record);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_PLANNER_H_
