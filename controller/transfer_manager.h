// TransferManager: the controller's state machine for transfers, tasks and workers.
//
// It owns every transition of the design's state machine and applies each one as a
// single RocksDB WriteBatch through Store, so the controller can be killed at any
// instant and restart consistent (Recover). The gRPC services are thin adapters over
// it; the planning loop and the housekeeping loop call into it too.
//
//   transfer: PENDING -> PLANNING -> RUNNING -> SUCCEEDED | FAILED, or CANCELLED;
//             RUNNING ends only after its finalize phases (listing complete, no task
//             open): LINKS -> DIRS -> DONE, each run in bounded waves of tasks from the
//             `deferred` family (transfer_manager_finalize.cc)
//   task:     QUEUED -> LEASED(worker, generation, expiry) -> DONE | FAILED,
//             back to QUEUED on lease expiry or a retryable error while attempts last
//   file copied in chunks: see chunk_tracker.h (transitions in
//             transfer_manager_chunks.cc)
//
// A lease is identified by (task, lease_generation); a report is accepted only for the
// task's current generation, whichever worker incarnation sends it, so work finished
// across a controller restart is not thrown away.
//
// Memory: runnable tasks live in RocksDB (queue family), not in memory; in memory are
// only workers, current leases and recent rates per active transfer.
//
// Thread safety: all public methods are safe to call concurrently; one mutex
// serializes state transitions.
#ifndef FERRY_CONTROLLER_TRANSFER_MANAGER_H_
#define FERRY_CONTROLLER_TRANSFER_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/bandwidth_manager.h"
#include "controller/chunk_tracker.h"
#include "controller/observer.h"
#include "controller/planner.h"
#include "controller/records.pb.h"
#include "controller/scheduler.h"
#include "controller/store.h"
#include "proto/copy_service.pb.h"
#include "proto/worker_service.pb.h"

namespace ferry::controller {

class TaskAuthorizer;  // controller/task_authorizer.h

struct ManagerOptions {
  std::string cluster = "local";
  // Other clusters this controller may copy from (pull): cluster name -> DataService
  // addresses of copyds serving that cluster's root (--peer). Never this cluster.
  absl::flat_hash_map<std::string, std::vector<std::string>> peers;
  absl::Duration lease_duration = absl::Seconds(30);
  absl::Duration heartbeat_interval = absl::Seconds(2);
  absl::Duration worker_timeout = absl::Seconds(10);
  int max_attempts = 5;
  // Flow-group demands and rate limits (see bandwidth_manager.h); null: no
  // broker, no limits. Must outlive the manager.
  BandwidthManager* bandwidth = nullptr;
  // Retries wait base * 2^(attempt-1), at most max, with jitter; a zero base retries
  // at once.
  absl::Duration retry_backoff_base = absl::Seconds(1);
  absl::Duration retry_backoff_max = absl::Seconds(60);
  // A running transfer without progress this long is reported as stalled, with why.
  absl::Duration stall_after = absl::Seconds(60);
  // Ended transfers are kept this long (GetTransfer, ListTransfers), then deleted.
  absl::Duration retention = absl::Hours(24 * 7);
  absl::Duration garbage_collection_interval = absl::Minutes(1);
  // Fair-share weight per user within a priority class; absent users weigh 1.
  absl::flat_hash_map<std::string, double> user_weights;
  // Errors kept per transfer (newest last).
  int max_errors_kept = 20;
  PlanLimits plan_limits;
  // A finalize phase queues at most this many tasks at a time (each of at most
  // plan_limits.max_files_per_task entries): memory stays bounded whatever the size of
  // the transfer.
  int finalize_wave_tasks = 16;
  // Asked for every task about to be leased (policy re-check before the
  // files' commit, capabilities); null: no check. Must outlive the manager.
  TaskAuthorizer* task_authorizer = nullptr;
};

// Runnable tasks of one (priority class, user) queue; see TransferManager::QueueStats.
struct QueueStat {
  v1::PriorityClass priority = v1::PRIORITY_CLASS_UNSPECIFIED;
  std::string user;
  int64_t queued = 0;
  // Creation time of the oldest transfer with tasks in this queue (InfinitePast if
  // unknown); the queue's age is now minus this.
  absl::Time oldest_create_time = absl::InfinitePast();
};

class TransferManager {
 public:
  // `store`, `clock` and `observer` (may be null) must outlive the manager.
  TransferManager(Store* store, const Clock* clock, ManagerOptions options,
                  ManagerObserver* observer = nullptr);

  // Rebuilds in-memory state after a start: current leases (they expire one lease
  // duration from now unless their worker reports or heartbeats) and the transfers
  // whose listing is not complete. Call once before serving.
  // `listener` runs after each commit that made a task runnable (a new, retried or
  // requeued task), under the manager's lock: it must only signal (e.g.
  // LeaseWaitList::Wake), never call back into the manager.
  void SetTasksRunnableListener(std::function<void()> listener);

  absl::Status Recover();

  // ---- CopyService ----
  absl::StatusOr<v1::Transfer> CreateTransfer(const std::string& user,
                                              const v1::CreateTransferRequest& request);
  absl::StatusOr<v1::Transfer> GetTransfer(const std::string& id);
  absl::StatusOr<v1::ListTransfersResponse> ListTransfers(
      const std::string& user, const v1::ListTransfersRequest& request);
  absl::StatusOr<v1::Transfer> CancelTransfer(const std::string& user,
                                              const std::string& id,
                                              const std::string& reason);

  // ---- WorkerService ----
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(
      const v1::RegisterWorkerRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::LeaseTasksResponse> LeaseTasks(const v1::LeaseTasksRequest& request);
  absl::StatusOr<v1::ReportTasksResponse> ReportTasks(
      const v1::ReportTasksRequest& request);

  // ---- Planning (called by PlanningLoop) ----
  // Waits until a transfer needs planning or `deadline`; returns its id.
  std::optional<std::string> NextTransferToPlan(absl::Time deadline);
  // Puts a transfer back on the planning queue (after a retryable failure).
  void RequeueForPlanning(const std::string& id);
  // DataService addresses of the copyds serving `cluster` when it is a peer (another
  // cluster this controller copies from); empty for this cluster and unknown ones.
  std::vector<std::string> PeerDataAddresses(const std::string& cluster) const;

  // The DataService address of a live worker of this cluster, if any.
  std::optional<std::string> AnyWorkerDataAddress();
  // Loads a transfer's record for planning; moves PENDING to PLANNING. NOT_FOUND if
  // gone; FAILED_PRECONDITION if it is terminal (nothing to plan).
  absl::StatusOr<TransferRecord> BeginPlanning(const std::string& id);
  // Persists planned entries (tasks and queue entries) and the new listing cursor.
  // FAILED_PRECONDITION if the transfer became terminal (cancelled) meanwhile.
  absl::Status AddPlannedEntries(const std::string& id,
                                 const std::vector<v1::FileInfo>& entries,
                                 const std::string& cursor, bool root_entry,
                                 bool listing_complete);
  // Ends a transfer as FAILED because planning failed permanently.
  absl::Status FailTransfer(const std::string& id, const absl::Status& error);
  // Records why a transfer is not moving ("" clears it).
  void SetStalledReason(const std::string& id, const std::string& reason);

  // ---- Housekeeping (called periodically) ----
  // Drops workers silent for longer than worker_timeout, requeues expired leases,
  // promotes retries whose backoff ended, detects stalled transfers and deletes
  // transfers that ended more than `retention` ago.
  void ExpireWorkersAndLeases();

  const ManagerOptions& options() const { return options_; }

  // ---- Metrics (transfer_manager_stats.cc) ----
  // One entry per (class, user) with runnable tasks; tasks waiting out a retry backoff
  // are not counted. O(active users) RocksDB reads under the mutex.
  absl::StatusOr<std::vector<QueueStat>> QueueStats();

 private:
  struct Worker {
    v1::RegisterWorkerRequest registration;
    absl::Time last_seen;
  };
  struct Lease {
    uint64_t generation = 0;
    std::string worker_id;
    absl::Time expiry;
    v1::FlowGroup flow_group;  // Empty if its transfer was unreadable at recovery.
  };
  struct RateSample {
    absl::Time time;
    int64_t bytes_done;
  };

  absl::Status LoadTransfer(const std::string& id, TransferRecord* record) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PutTransfer(rocksdb::WriteBatch* batch, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddError(TransferRecord* record, const absl::Status& error,
                const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Once listing is complete and no task is open: queues the next finalize wave into
  // `batch`, or ends the transfer when every phase is done. Safe to call again on the
  // same record within one batch.
  void FinishIfDone(rocksdb::WriteBatch* batch, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `task` QUEUED (after `delay` when positive) and writes it.
  void EnqueueTask(rocksdb::WriteBatch* batch, TaskRecord* task, absl::Duration delay)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration RetryBackoff(int attempts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits `batch`, then applies the scheduler changes staged for it in delta_.
  absl::Status CommitBatch(rocksdb::WriteBatch* batch, Durability durability)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteDueRetries() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetectStalls(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (transfer_manager_bandwidth.cc) The rate limits of `worker_id`, from
  // every current lease; and "" or why transfer `id` lacks bandwidth.
  void AddRateLimits(const std::string& worker_id, v1::HeartbeatResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string BandwidthStallReason(const std::string& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string StallReason(const std::string& id, absl::Duration idle) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CollectGarbage(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stages an observer event, delivered when the current batch commits.
  void Notify(std::function<void(ManagerObserver&)> event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs tasks_runnable_ when the committed delta made a task runnable.
  void SignalRunnable(bool adds_runnable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyStateChange(v1::TransferState from, v1::TransferState to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double WeightOf(const std::string& user) const;
  // A task attempt failed with `error`: requeue it if it may be retried (or a source
  // changed: its files are copied again as they are now) and attempts remain, otherwise
  // fail its files. Updates `record`; adds writes to `batch`.
  void RetryOrFailTask(rocksdb::WriteBatch* batch, TaskRecord* task,
                       TransferRecord* record, const absl::Status& error,
                       bool source_changed = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyFileResults(rocksdb::WriteBatch* batch, const v1::TaskReport& report,
                        TaskRecord* task, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Finalize phases (transfer_manager_finalize.cc) ----
  // Queues the next wave of deferred work (moving through the phases while the current
  // one has none left) and returns true, or returns false once the phase is DONE. A
  // store error also returns true (the transfer does not end without its deferred
  // work; Recover tries again).
  bool ContinueFinalizing(rocksdb::WriteBatch* batch, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves up to options_.finalize_wave_tasks tasks' worth of the current phase's entries
  // from `deferred` into queued tasks; how many tasks (0: the phase has no entry left).
  absl::StatusOr<int> QueueFinalizeWave(rocksdb::WriteBatch* batch, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The successful report of a FINALIZE_DIRS task: failed entries are counted, retryable
  // ones retried.
  void ApplyFinalizeResults(rocksdb::WriteBatch* batch, const v1::TaskReport& report,
                            TaskRecord* task, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A directory's final attributes could not be set: it moves from files_done to
  // files_failed (unless its copy had already failed: see NoteCopyFailed).
  void FailFinalizedDirectory(const v1::FileTask& file, const absl::Status& error,
                              TransferRecord* record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A COPY_FILES file failed for good: a directory is marked so that its DIRS entry,
  // which fails too, is not counted twice.
  void NoteCopyFailed(rocksdb::WriteBatch* batch, const v1::FileTask& file,
                      const TransferRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancel: the transfer's deferred work and hard-link index go.
  void DropDeferred(rocksdb::WriteBatch* batch, const std::string& transfer_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Files copied in chunks (transfer_manager_chunks.cc; see chunk_tracker.h) ----
  // The record of the file a COPY_CHUNK, COMMIT_FILE or CLEANUP task works for, or null
  // (logged, and the file counted failed) if the store cannot give it.
  FileRecord* FileOf(const TaskRecord& task, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The successful report of such a task (its one FileResult).
  void ApplyFileStepResult(rocksdb::WriteBatch* batch, const v1::TaskReport& report,
                           TaskRecord* task, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChunkCopied(rocksdb::WriteBatch* batch, const v1::FileResult& result,
                   const TaskRecord& task, TransferRecord* record, FileRecord* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FileCommitted(TransferRecord* record, FileRecord* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a retry of `task` could still be of use (its file has not ended meanwhile).
  bool StillWanted(const TaskRecord& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Such a task failed for good (no retry): ends its file as FAILED.
  void FailFileStep(rocksdb::WriteBatch* batch, TaskRecord* task, TransferRecord* record,
                    const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The commit found the temporary file corrupt: copy every chunk again, once.
  void RecopyOrFail(rocksdb::WriteBatch* batch, TaskRecord* task, TransferRecord* record,
                    const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A chunk or the commit of a file reported `result` with source_changed: gives up the
  // file's record (REPLANNED) and plans the file again from result.source_now, or fails
  // it once it was planned max_attempts times. Closes `task`.
  void ReplanChangedFile(rocksdb::WriteBatch* batch, const v1::FileResult& result,
                         TaskRecord* task, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a task of a chunked file as `state` (DONE or FAILED); `file` may be null.
  void CloseFileTask(rocksdb::WriteBatch* batch, TaskRecord* task, TaskState state,
                     TransferRecord* record, FileRecord* file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A COPYING or COMMITTING file ends as FAILED (with `error`) or SKIPPED: counted once,
  // its queued chunks dropped, its temporary file cleaned up when no chunk is open.
  void EndFile(rocksdb::WriteBatch* batch, FileState end, const absl::Status& error,
               TransferRecord* record, FileRecord* file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropQueuedChunks(rocksdb::WriteBatch* batch, TransferRecord* record,
                        FileRecord* file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeQueueCleanup(rocksdb::WriteBatch* batch, TransferRecord* record,
                         FileRecord* file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a new COMMIT_FILE or CLEANUP task for `file`, runnable after `delay`.
  void AddFileTask(rocksdb::WriteBatch* batch, v1::TaskKind kind, const FileRecord& file,
                   absl::Duration delay, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Cancel: a CLEANUP task for every chunked file not committed, after the revoked
  // leases' holders have had a lease duration to notice and stop writing.
  void QueueCleanupsForCancel(rocksdb::WriteBatch* batch, TransferRecord* record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What one ReportTasks call changes, committed together.
  struct ReportBatch {
    rocksdb::WriteBatch batch;
    absl::flat_hash_map<std::string, TransferRecord> transfers;  // As changed so far.
    absl::flat_hash_set<std::string> seen_tasks;
    std::vector<std::string> finished_leases;
  };
  v1::TaskAck ApplyReport(const v1::TaskReport& report, ReportBatch* group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (transfer_manager_auth.cc) Runs options_.task_authorizer on `leased`;
  // if it refuses, fails or requeues `task` in `batch` (with `record` written) and
  // returns false: the task is not leased.
  bool AuthorizeLease(rocksdb::WriteBatch* batch, TaskRecord* task, TransferRecord* record,
                      v1::Task* leased) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Task ToTask(const TaskRecord& task, const v1::Transfer& transfer,
                  absl::Time expiry) const;
  absl::Status ExpireLease(const std::string& task_key, const absl::Status& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets a worker incarnation and requeues (or fails) the tasks it holds leases on,
  // with UNAVAILABLE `why` as the attempt's error.
  void DropWorker(const std::string& worker_id, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillLiveFields(v1::Transfer* transfer) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordProgressSample(const v1::Transfer& transfer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ValidateCreate(const v1::CreateTransferRequest& request) const;

  Store* const store_;
  const Clock* const clock_;
  const ManagerOptions options_;
  ManagerObserver* const observer_;
  std::function<void()> tasks_runnable_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex mu_;
  Scheduler scheduler_ ABSL_GUARDED_BY(mu_);
  Scheduler::Delta delta_ ABSL_GUARDED_BY(mu_);  // Staged for the batch being built.
  ChunkTracker chunks_ ABSL_GUARDED_BY(mu_);     // File records of that batch.
  // Per transfer, the last `deferred` key that batch took into a wave: reads see the
  // committed state only, so a second wave in the same batch starts past it.
  absl::flat_hash_map<std::string, std::string> deferred_taken_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(ManagerObserver&)>> events_ ABSL_GUARDED_BY(mu_);
  // Active transfers: when each last moved, and its latest retried error.
  absl::flat_hash_map<std::string, absl::Time> last_progress_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> last_retry_error_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> detected_stalls_ ABSL_GUARDED_BY(mu_);
  absl::Time next_garbage_collection_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::BitGen bitgen_ ABSL_GUARDED_BY(mu_);
  uint64_t next_transfer_number_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_worker_number_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Lease> leases_ ABSL_GUARDED_BY(mu_);  // By task key.
  std::deque<std::string> planning_queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> stalled_reasons_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::deque<RateSample>> rate_samples_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_TRANSFER_MANAGER_H_
