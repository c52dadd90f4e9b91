// FileCopier: executes one leased task on this copyd's storage root.
//
// For TASK_KIND_COPY_FILES each FileTask is copied whole and committed on its own:
// the source is opened and checked against the planned stat, its bytes stream through
// one reused buffer into a hidden temporary file beside the target while their CRC32C
// is computed, the temporary file is read back and its CRC compared, then it is given
// the source's mode and mtime, fsynced (data and attributes), renamed into place under
// the transfer's overwrite policy (RENAME_NOREPLACE for "never") and the directory is
// fsynced; so are the parents of directories it creates. Until that rename the target
// shows its old content or nothing; on any failure the temporary file is removed. A
// source whose size or mtime changed is not committed (FAILED_PRECONDITION "source
// changed", which the controller retries from scratch).
// A retried attempt (Task.attempt > 1) first removes the temporary files an earlier,
// killed attempt left beside each target, and under the "never" policy it counts a
// target that already is a complete copy of the source (an earlier attempt committed
// it, but its report never reached the controller) as copied, not as a conflict.
// Directories are created (kept writable by their owner: their final mode and mtime
// come with TASK_KIND_FINALIZE_DIRS, dir_finalizer.h, which Execute runs too), symlinks
// are recreated as links (never followed), other file types are skipped. With
// preserve.owner, files and symlinks get the planned owner before their mode, when
// options.can_set_owner (copyd runs as root).
// Hard links: a regular file whose FileTask has a link_target (the destination of the
// first name of its source inode, committed by an earlier task) becomes another name
// of that file when it still looks like the source as planned (a regular file of the
// planned size, and mtime when preserved); else it is copied as any file, with one log
// line saying why. Under "never" the link is made in place (an existing destination is
// the usual conflict); under the other policies beside it, then renamed over it. A
// destination that already is that inode (a retry's earlier link) is done. Nothing is
// read from the source and the result has 0 bytes. Links are decided before anything
// is copied, so a batched remote read streams only the files really copied.
//
// A large file is copied in chunks by several tasks, maybe on several workers at once,
// each with one FileTask (file_copier_chunks.cc):
//  - COPY_CHUNK: creates the target's parent directories, applies the overwrite policy
//    (a target to keep makes the chunk `skipped`), checks the source against the
//    planned stat, opens the file's shared temporary file (temp_path, created by the
//    first chunk there: OpenOrCreateForWrite), writes [offset, offset + length) with
//    positional writes while computing its CRC32C, checks the source stat again, and
//    reports the CRC and the bytes. No fsync: the commit syncs once.
//  - COMMIT_FILE: checks the source against the planned stat, cuts the temporary file
//    to the planned size, re-reads it and compares its CRC32C with expected_crc32c (the
//    composite of the chunks'), sets mode and mtime, fsyncs, renames it into place under
//    the overwrite policy and fsyncs the directory. A mismatch is DATA_LOSS and nothing
//    is renamed: the controller copies the chunks again once, then fails the file. A
//    temporary file already gone with a target of exactly that CRC32C is an earlier
//    attempt's commit whose report was lost: reported as committed.
//  - CLEANUP: removes the temporary file (absent is fine).
// A temporary file is never removed on a chunk's or commit's failure (other chunks or a
// retry need it); the controller sends CLEANUP when the file ends without a commit.
// temp_path must name a ferry temporary file beside the target (INVALID_ARGUMENT).
//
// The source is read through a ChunkSource (chunk_source.h): this copyd's own root
// (`fs`) when Task.source_data_addresses is empty, else the DataService of those copyds
// of the source cluster (pull; needs `channels`). Every read of the source, its stat
// checks, and COMMIT_FILE's re-check of the source go through it; the destination is
// always `fs`.
//
// Memory: one buffer of `block_size` bytes per FileCopier, reused for every block, and
// for remote sources one reused DataBlock message.
// Thread safety: one FileCopier per executor thread; `fs` is shared.
#ifndef FERRY_COPYD_FILE_COPIER_H_
#define FERRY_COPYD_FILE_COPIER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "copyd/chunk_source.h"
#include "copyd/throttled_chunk_source.h"
#include "proto/worker_service.pb.h"
#include "storage/file_system.h"

namespace ferry::copyd {

struct CopierOptions {
  // Bytes per read and write; writes above 256 KiB into fresh page cache are much
  // slower on these machines (see shared/notes/data-path.md).
  size_t block_size = 256 << 10;
  // Re-read the temporary file before commit and compare its CRC32C with the source's.
  bool verify_after_write = true;
  // Files at least this large are read back by two threads (the commit of a large
  // file waits for that pass while the other cores idle).
  uint64_t parallel_verify_above = uint64_t{64} << 20;
  // Within one root, bytes copied in the kernel (copy_file_range) between checks for an
  // abort; tests make it small.
  uint64_t local_copy_piece = LocalChunkSource::kCopyPiece;
  // Remote reads pay their task's flow-group rate here (shared by every copier of the
  // process, rates from heartbeats); null: never throttled. Not owned.
  RateLimiter* rate_limiter = nullptr;
  // Whether this copyd may give what it creates the source's owner (it runs as root:
  // only root may chown to anyone). When false, Task.preserve.owner is ignored, with
  // one log line per task.
  bool can_set_owner = false;
};

class FileCopier {
 public:
  // `fs`, `clock` and `channels` must outlive the copier; without `channels` (null) a
  // task whose source is in another cluster fails with FAILED_PRECONDITION.
  FileCopier(storage::FileSystem* fs, const Clock* clock, CopierOptions options = {},
             DataChannels* channels = nullptr);

  // Runs `task`; the report carries one FileResult per FileTask. Stops early with
  // CANCELLED when `*abort` becomes true. `bytes_done` (may be null) is advanced as
  // data is written, for heartbeats.
  v1::TaskReport Execute(const v1::Task& task, const std::atomic<bool>* abort,
                         std::atomic<int64_t>* bytes_done);

 private:
  // A regular file of a batched task, copied and verified into its temporary file but
  // not yet renamed into place.
  struct PendingCommit {
    int result_index;  // In the task's report.
    std::string temp;
    std::string target;
  };

  struct Context {
    const v1::Task* task;
    const std::atomic<bool>* abort;
    std::atomic<int64_t>* bytes_done;
    ChunkSource* source;
    // Non-null when the task's files are committed together (several files): no fsync
    // per file or directory, regular files wait here for CommitPending.
    std::vector<PendingCommit>* pending = nullptr;
    // COPY_FILES: DecideLinks' answer for each FileTask, by index.
    const std::vector<absl::StatusOr<std::string>>* links = nullptr;
    // Files whose target FilesToStream found absent just before: CheckOverwrite need
    // not look again.
    const absl::flat_hash_set<const v1::FileTask*>* absent_targets = nullptr;
  };

  // For each FileTask of a COPY_FILES task, in order: the root-relative name of the
  // existing file to make it another name of, "" to copy it (no link_target, or the
  // link target no longer looks like the planned source: logged), or INVALID_ARGUMENT
  // for a malformed link_target.
  std::vector<absl::StatusOr<std::string>> DecideLinks(const v1::Task& task);
  absl::StatusOr<std::string> LinkSourceOf(const v1::Task& task, const v1::FileTask& file);
  // Makes `target` another name of `existing` under the overwrite policy (see the top
  // comment); durable at return, or with the task's last SyncFileSystem when batched.
  absl::Status LinkRegular(const Context& context, const v1::FileTask& file,
                           const std::string& source, const std::string& existing,
                           const std::string& target, int result_index,
                           v1::FileResult* result);
  // Renames `temp`, a new name of a file, over `target`; `temp` is gone afterwards.
  absl::Status ReplaceWithLink(const v1::Task& task, const std::string& temp,
                               const std::string& target);
  // A fresh random temporary name beside `target`.
  std::string TempNameBeside(const std::string& target);

  // The regular files of a COPY_FILES task worth streaming together from another
  // cluster: those whose target does not exist (or is replaced anyway) and that are
  // not to be linked (`links`, from DecideLinks).
  // Adds to `absent_targets` the files whose target it found absent.
  std::vector<const v1::FileTask*> FilesToStream(
      const v1::Task& task, const std::vector<absl::StatusOr<std::string>>& links,
      absl::flat_hash_set<const v1::FileTask*>* absent_targets);
  v1::FileResult CopyOne(const Context& context, const v1::FileTask& file, int result_index);
  // Makes every pending temporary file durable at once (SyncFileSystem), renames them
  // all into place, then makes the names durable (SyncFileSystem again); the results in
  // `report` of files that fail are set to the failure. A failed final sync fails every
  // file of the report that had succeeded: they are copied again.
  void CommitPending(const Context& context, v1::TaskReport* report);
  absl::Status CopyRegular(const Context& context, const v1::FileTask& file,
                           const std::string& source, const std::string& target,
                           int result_index, v1::FileResult* result);
  absl::Status CopyDirectory(const Context& context, const v1::FileTask& file,
                             const std::string& target);
  // mkdir -p whose new directories survive a crash (their parents are synced, unless
  // `sync` is false: a batched task syncs the whole file system at its end).
  absl::Status MakeDirsDurably(absl::string_view dir, bool sync = true);
  // MakeDirsDurably without known_dirs_.
  absl::Status MakeDirsDurablyUncached(absl::string_view dir, bool sync);
  absl::Status CopySymlink(const Context& context, const v1::FileTask& file,
                           const std::string& target);
  // What CheckOverwrite decided for an existing target.
  enum class Overwrite { kCopy, kSkip, kAlreadyCopied };
  // Decides by the overwrite policy; kAlreadyCopied (result's crc32c and bytes set)
  // only for a retried attempt that finds its own earlier commit (IsCompleteCopy).
  absl::StatusOr<Overwrite> CheckOverwrite(const Context& context, const v1::FileTask& file,
                                           const std::string& source,
                                           const std::string& target,
                                           v1::FileResult* result);
  // Whether `existing` (at `target`) is what copying `source` would commit: for a
  // symlink the same link text; for a regular file the same size, the same mtime when
  // mtimes are preserved, and the same CRC32C as the source (unchanged since planning)
  // has now, which is put in `result` with the byte count.
  absl::StatusOr<bool> IsCompleteCopy(const Context& context, const v1::FileTask& file,
                                      const std::string& source, const std::string& target,
                                      const storage::FileInfo& existing,
                                      v1::FileResult* result);
  // Best effort: removes the temporary files (".ferry-tmp.<name>.<16 hex>") of
  // `target` left by an earlier attempt whose worker was killed before it could.
  void RemoveStaleTemps(const std::string& target);
  // Copies [offset, offset + length) of the source to the same range of `temp`
  // through context.source; its CRC32C.
  absl::StatusOr<uint32_t> CopyRange(const Context& context, const v1::FileTask& file,
                                     const std::string& source, storage::WritableFile& temp,
                                     uint64_t offset, uint64_t length);
  absl::StatusOr<uint32_t> CrcOfFile(const std::string& path, uint64_t size);
  // CRC32C of [offset, end) of the file at `path`, read through `buffer`.
  absl::StatusOr<uint32_t> CrcOfRange(const std::string& path, uint64_t offset, uint64_t end,
                                      std::vector<char>* buffer);
  // Gives `path` the planned owner when the task preserves owners and this copyd may
  // set them; before the mode, which chown's clearing of set-id bits would change.
  absl::Status ApplyOwner(const v1::Task& task, const std::string& path,
                          const v1::FileInfo& planned);
  // Renames `temp` to `target` under the task's overwrite policy, then fsyncs the
  // directory unless `sync_dir` is false.
  absl::Status Commit(const v1::Task& task, const std::string& temp,
                      const std::string& target, bool sync_dir = true);

  // ---- Files copied in chunks (file_copier_chunks.cc) ----
  struct ChunkedPaths {  // Root-relative.
    std::string source;
    std::string target;
    std::string temp;
  };
  static absl::StatusOr<ChunkedPaths> ChunkedPathsOf(const v1::FileTask& file);
  // Runs a COPY_CHUNK, COMMIT_FILE or CLEANUP task; UNIMPLEMENTED for other kinds.
  v1::TaskReport ExecuteFileStep(const Context& context);
  absl::Status CopyChunk(const Context& context, const v1::FileTask& file,
                         const ChunkedPaths& paths, v1::FileResult* result);
  absl::Status CommitChunkedFile(const Context& context, const v1::FileTask& file,
                                 const ChunkedPaths& paths, v1::FileResult* result);
  // The temporary file is gone: OK if the target is the committed file, else DATA_LOSS.
  absl::Status CheckAlreadyCommitted(const v1::FileTask& file, const ChunkedPaths& paths,
                                     v1::FileResult* result);

  storage::FileSystem* const fs_;
  const Clock* const clock_;
  const CopierOptions options_;
  DataChannels* const channels_;
  std::vector<char> buffer_;
  // CrcOfFile's second thread reads through this one (allocated at its first use).
  std::vector<char> second_buffer_;
  // Directories this task already found or made (MakeDirsDurably), so that each of
  // many files in one directory does not look it up again; cleared by every Execute.
  absl::flat_hash_set<std::string> known_dirs_;
  v1::DataBlock block_;  // Every block of a remote source is received into it.
  absl::BitGen bitgen_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_FILE_COPIER_H_
