// Scheduler: which runnable task a worker gets next.
//
// Order: strict priority classes (GUARANTEED before BATCH before BEST_EFFORT); within a
// class, weighted fair share between users by stride scheduling: each user with queued
// work has a pass value, the user with the lowest pass goes next and its pass grows by
// 1/weight. A user who becomes active starts at the lowest pass among the active users
// of its class, so idle time banks no credit and one user's million-file transfer cannot
// starve another's ten files. Within a user: oldest transfer first, then task order.
//
// Storage: runnable tasks are keys of the `queue` column family
// (QueueKey(priority, user, transfer number, seq) -> task key), so the queue is bounded
// by disk, not memory. Tasks waiting out a retry backoff sit in the `delayed` family
// (DelayedKey(not_before, task key)) until PromoteDue moves them into the queue. In
// memory: per (class, user) the queued count, the pass and a scan hint that lets picks
// skip the tombstones of taken keys: O(active users).
//
// Protocol: every change goes into the caller's WriteBatch and into a Delta; the caller
// applies the Delta with Apply() only after the batch committed, so memory never runs
// ahead of RocksDB.
//
// Thread safety: not thread-safe; the TransferManager's mutex serializes all calls.
#ifndef FERRY_CONTROLLER_SCHEDULER_H_
#define FERRY_CONTROLLER_SCHEDULER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/records.pb.h"
#include "controller/store.h"

namespace ferry::controller {

class Scheduler {
 public:
  // Weight of a user's share within a class (> 0).
  using WeightFunction = std::function<double(const std::string& user)>;

  // `store` must outlive the scheduler.
  Scheduler(Store* store, WeightFunction weight);

  // Rebuilds counts from the queue family (one scan at start).
  absl::Status Recover();

  // In-memory effects of one batch, applied after it commits.
  class Delta {
   public:
    bool empty() const { return changes_.empty(); }
    // Whether applying it makes some task runnable (an enqueue, not a pick).
    bool adds_runnable() const {
      for (const Change& change : changes_) {
        if (change.count_change > 0) return true;
      }
      return false;
    }

   private:
    friend class Scheduler;
    struct Change {
      int priority;
      std::string user;
      int count_change;      // +1 enqueued, -1 removed.
      bool taken;            // Removed by a pick: advances the user's pass.
      std::string queue_key;
    };
    std::vector<Change> changes_;
  };

  // Makes `task` runnable now.
  void Enqueue(rocksdb::WriteBatch* batch, const TaskRecord& task, Delta* delta);
  // Makes `task` runnable at `not_before` (retry backoff); records it in the task, which
  // the caller must write.
  void EnqueueAfter(rocksdb::WriteBatch* batch, TaskRecord* task, absl::Time not_before,
                    Delta* delta);
  // Removes a QUEUED task (cancel), wherever it waits.
  void Remove(rocksdb::WriteBatch* batch, const TaskRecord& task, Delta* delta);

  struct Pick {
    std::string queue_key;
    std::string task_key;
    int priority;
    std::string user;
  };
  // Chooses up to `max` queued tasks in scheduling order without changing anything.
  absl::StatusOr<std::vector<Pick>> Choose(int max) const;
  // Removes a chosen task from the queue (it is being leased, or its entry is stale).
  void Take(rocksdb::WriteBatch* batch, const Pick& pick, Delta* delta);

  // Moves delayed tasks whose time has come into the queue. Returns how many.
  absl::StatusOr<int> PromoteDue(absl::Time now, rocksdb::WriteBatch* batch, Delta* delta);

  void Apply(const Delta& delta);

  // Queued tasks of a class and user (for stall reasons and metrics).
  int64_t QueuedCount(int priority, const std::string& user) const;
  int64_t TotalQueued() const;

  // The head of one (class, user) queue.
  struct QueueHead {
    int priority;
    std::string user;
    int64_t queued;
    // Transfer number of the first queued task: the user's oldest transfer with work
    // queued in this class.
    uint64_t first_transfer_number;
  };
  // One per (class, user) with queued tasks, in scheduling order (for metrics): one
  // seek each, so O(active users). Tasks waiting out a retry backoff are not counted.
  absl::StatusOr<std::vector<QueueHead>> Heads() const;

 private:
  struct UserQueue {
    int64_t count = 0;
    double pass = 0;
    std::string scan_from;  // No queued key of this user sorts before it.
  };
  using ClassKey = std::pair<int, std::string>;  // (255 - priority, user): classes in order.

  UserQueue& QueueOf(int priority, const std::string& user);
  double MinActivePass(int priority) const;

  Store* const store_;
  const WeightFunction weight_;
  std::map<ClassKey, UserQueue> queues_;
};

std::string DelayedKey(absl::Time not_before, absl::string_view task_key);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_SCHEDULER_H_
