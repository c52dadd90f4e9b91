// ChunkTracker: the bookkeeping of files copied in chunks (the `files` family).
//
// A regular file larger than the chunk size is planned (planner.h) as COPY_CHUNK tasks
// that write one shared temporary file, plus a FileRecord that lives through:
//
//   COPYING --every chunk DONE--> COMMITTING --COMMIT_FILE DONE--> COMMITTED
//   COPYING --a chunk (or the commit) reported `skipped`--> SKIPPED
//   COPYING or COMMITTING --a task of the file failed for good--> FAILED
//   COMMITTING --the commit found the temporary file's CRC32C wrong (DATA_LOSS), the
//               first time--> COPYING again, every chunk queued anew
//   COPYING or COMMITTING --a chunk (or the commit) reported source_changed--> REPLANNED:
//               the file is planned again from the source as it is now (its stat in
//               the report), as new work of the transfer: a new record with new chunks
//               and temporary file, or one COPY_FILES task if it is no longer larger
//               than the chunk size; the new record's `replans` is one more. Once a file
//               was planned max_attempts times, the next change makes it FAILED
//               (FAILED_PRECONDITION "source kept changing while it was copied").
//
// Each chunk DONE records its CRC32C; the last one makes the file COMMITTING with the
// composite CRC32C (Crc32cCombine of the chunk CRCs in order), which the COMMIT_FILE
// task carries as expected_crc32c. A SKIPPED, FAILED or REPLANNED file's queued chunks
// are dropped, and once none of its chunk tasks is open, one CLEANUP task removes the
// temporary file. Reports of its chunks still running are accepted and change nothing
// but their own task. A REPLANNED record counts in no progress counter: the bytes of
// its chunks leave bytes_done, and files_total and bytes_total count the file once, at
// its latest size.
// TransferManager drives these transitions (transfer_manager_chunks.cc); this class
// holds the records and the pure steps.
//
// Batches: Load caches the records of the batch being built, so the reports of one
// group commit see each other's changes (two chunks of a file reported together);
// AddTo writes every loaded record into the batch just before it commits, and Reset
// forgets them after the commit (successful or not).
//
// Thread safety: none; the TransferManager's mutex serializes all calls.
#ifndef FERRY_CONTROLLER_CHUNK_TRACKER_H_
#define FERRY_CONTROLLER_CHUNK_TRACKER_H_

#include <cstdint>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "controller/records.pb.h"
#include "controller/store.h"
#include "proto/worker_service.pb.h"
#include "rocksdb/write_batch.h"

namespace ferry::controller {

class ChunkTracker {
 public:
  // `store` must outlive the tracker.
  explicit ChunkTracker(Store* store) : store_(store) {}

  // The record of the file `task` (COPY_CHUNK, COMMIT_FILE or CLEANUP) works for, as
  // changed so far in the batch being built. NOT_FOUND or DATA_LOSS from the store.
  absl::StatusOr<FileRecord*> Load(const TaskRecord& task);
  // Adds a Put of every loaded record to `batch`.
  void AddTo(rocksdb::WriteBatch* batch) const;
  void Reset() { records_.clear(); }

  // Chunk `index` of `file` is DONE with `crc32c`. Returns true when it was the last
  // chunk not yet done: the file is then COMMITTING, with its composite CRC32C set.
  static bool RecordChunk(FileRecord* file, uint32_t index, uint32_t crc32c);
  // Whole-file CRC32C of the chunk CRCs (all chunks must be done).
  static uint32_t CompositeCrc32c(const FileRecord& file);
  // Length of chunk `index` < chunk_count (the last one may be shorter).
  static uint64_t ChunkLength(const FileRecord& file, uint32_t index);
  // Bytes of the chunks DONE so far (what bytes_done counted for them).
  static uint64_t BytesDone(const FileRecord& file);
  // The FileTask of the file's COMMIT_FILE task (expected_crc32c set) or CLEANUP task.
  static v1::FileTask CommitFileTask(const FileRecord& file);
  static v1::FileTask CleanupFileTask(const FileRecord& file);
  // Back to COPYING with no chunk done, every chunk open (after a corrupt commit).
  static void RestartCopy(FileRecord* file);

 private:
  Store* const store_;
  // By FileKey; node map: pointers stay valid while more records are loaded.
  absl::node_hash_map<std::string, FileRecord> records_;
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_CHUNK_TRACKER_H_
