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
// Work after the copying (FinalizePhase in records.proto) is returned as deferred
// entries, never as tasks:
// - Hard links (transfer.preserve().hard_links(), not dry_run, and a HardLinkIndex
//   given): the first name of a regular file with nlink > 1 is planned as any file and
//   recorded in the index by (device, inode); every further name becomes a LINKS entry,
//   a FileTask as a COPY_FILES file would have plus link_target = the first name's
//   destination path. It counts in files_total but not in bytes_total: when the link
//   works no byte is copied (a worker that has to copy it after all reports the bytes,
//   and the manager adds them to bytes_total then).
// - Directories (any of preserve mode/mtime/owner, not dry_run): still planned in
//   COPY_FILES (the copyd creates them writable so the copy can fill them), and also a
//   DIRS entry (destination_path and source_info) so their final attributes are set
//   after everything inside exists; not counted again.
//
// Thread safety: pure functions; StoreHardLinkIndex is one caller's, like its batch.
#ifndef FERRY_CONTROLLER_PLANNER_H_
#define FERRY_CONTROLLER_PLANNER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "controller/records.pb.h"
#include "controller/store.h"
#include "proto/common.pb.h"
#include "proto/worker_service.pb.h"
#include "rocksdb/write_batch.h"

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

// Work deferred to a finalize phase, stored under DeferredKey(transfer id, phase, seq).
struct DeferredEntry {
  FinalizePhase phase = FINALIZE_PHASE_UNSPECIFIED;
  uint64_t seq = 0;
  v1::FileTask file;
};

struct PlannedEntries {
  std::vector<TaskRecord> tasks;
  // One per chunked file, to be stored under FileKey(transfer id, number).
  std::vector<FileRecord> files;
  std::vector<DeferredEntry> deferred;
};

// The first names of a transfer's hard-linked source inodes, as planning goes.
class HardLinkIndex {
 public:
  virtual ~HardLinkIndex() = default;
  // The destination path of the first name planned for (device, inode), if any.
  virtual std::optional<std::string> Find(uint64_t device, uint64_t inode) = 0;
  // Remembers `destination_path` as the first name of (device, inode).
  virtual void Record(uint64_t device, uint64_t inode,
                      const std::string& destination_path) = 0;
};

// A HardLinkIndex over one transfer's `inodes` family, as committed, plus what was
// recorded through it (a per-call overlay: two names of one inode may be in one page).
// Record also adds the InodeRecord's Put to `batch`. A store read that fails is taken
// as "not found" and kept in status(): the caller must then not commit `batch`.
class StoreHardLinkIndex : public HardLinkIndex {
 public:
  // `store` and `batch` must outlive the index.
  StoreHardLinkIndex(const Store* store, std::string transfer_id, rocksdb::WriteBatch* batch);
  std::optional<std::string> Find(uint64_t device, uint64_t inode) override;
  void Record(uint64_t device, uint64_t inode, const std::string& destination_path) override;
  // OK, or the first store error met.
  const absl::Status& status() const { return status_; }

 private:
  const Store* const store_;
  const std::string transfer_id_;
  rocksdb::WriteBatch* const batch_;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::string> recorded_;
  absl::Status status_;
};

// A new QUEUED task of `kind` for the transfer, with the next sequence number (which
// is advanced); open_tasks is the caller's to count.
TaskRecord NewTask(TransferRecord* record, v1::TaskKind kind);

// The temporary file the chunks of file `file_number` share, beside the target
// `destination_path` (absolute): "<dir>/.ferry-tmp.<base, cut>.<transfer id>-<number>".
std::string ChunkTempPath(const std::string& destination_path,
                          const std::string& transfer_id, uint64_t file_number);

// Whether the transfer sets its directories' final attributes in the DIRS phase (any of
// preserve mode/mtime/owner, not a dry run).
bool DefersDirectories(const v1::Transfer& transfer);

// Destination path (absolute) of a listing entry whose path is relative to the
// transfer's source path.
std::string DestinationPathFor(const v1::Transfer& transfer, const std::string& relative);

// Plans `entries` (paths relative to the source) into new tasks and deferred entries.
// Task sequence numbers come from `record->next_task_seq`, file numbers from
// `record->next_file_number` and deferred ones from `record->next_deferred_seq`, which
// are advanced; open_tasks and the counters in record->transfer().progress()
// (files_total, a chunked file once; bytes_total) are updated. Without `links` (null)
// hard links are not looked for: every name is copied.
PlannedEntries PlanEntries(const std::vector<v1::FileInfo>& entries,
                           const PlanLimits& limits, TransferRecord* record,
                           HardLinkIndex* links = nullptr);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_PLANNER_H_
