#include "controller/scheduler.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controller/test_util.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::MakeTempDir;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    scheduler_ = NewScheduler();
  }

  std::unique_ptr<Scheduler> NewScheduler() {
    return std::make_unique<Scheduler>(store_.get(), [this](const std::string& user) {
      auto it = weights_.find(user);
      return it == weights_.end() ? 1.0 : it->second;
    });
  }

  TaskRecord Task(const std::string& user, int priority, uint64_t transfer, uint64_t seq) {
    TaskRecord task;
    task.set_transfer_id(TransferId(transfer));
    task.set_transfer_number(transfer);
    task.set_seq(seq);
    task.set_user(user);
    task.set_priority(static_cast<v1::PriorityClass>(priority));
    task.set_state(TASK_STATE_QUEUED);
    return task;
  }

  // Enqueues `count` tasks of one user and transfer, committed.
  void Add(const std::string& user, int count, int priority = v1::PRIORITY_CLASS_BATCH,
           uint64_t transfer = 1) {
    rocksdb::WriteBatch batch;
    Scheduler::Delta delta;
    for (int i = 0; i < count; ++i) {
      TaskRecord task = Task(user, priority, transfer, next_seq_++);
      store_->Put(&batch, Family::kTasks, TaskKey(task.transfer_id(), task.seq()), task);
      scheduler_->Enqueue(&batch, task, &delta);
    }
    ASSERT_TRUE(store_->Commit(&batch, Durability::kProcessCrashSafe).ok());
    scheduler_->Apply(delta);
  }

  // Takes `count` tasks one lease at a time; returns the users in order.
  std::vector<std::string> TakeUsers(int count) {
    std::vector<std::string> users;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<std::vector<Scheduler::Pick>> picks = scheduler_->Choose(1);
      EXPECT_TRUE(picks.ok()) << picks.status();
      if (!picks.ok() || picks->empty()) break;
      rocksdb::WriteBatch batch;
      Scheduler::Delta delta;
      scheduler_->Take(&batch, picks->front(), &delta);
      EXPECT_TRUE(store_->Commit(&batch, Durability::kProcessCrashSafe).ok());
      scheduler_->Apply(delta);
      users.push_back(picks->front().user);
    }
    return users;
  }

  static std::map<std::string, int> Counts(const std::vector<std::string>& users) {
    std::map<std::string, int> counts;
    for (const std::string& user : users) ++counts[user];
    return counts;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<std::string, double> weights_;
  uint64_t next_seq_ = 0;
};

TEST_F(SchedulerTest, HigherPriorityClassAlwaysFirst) {
  Add("alice", 3, v1::PRIORITY_CLASS_BEST_EFFORT);
  Add("bob", 2, v1::PRIORITY_CLASS_BATCH);
  Add("carol", 1, v1::PRIORITY_CLASS_GUARANTEED);
  EXPECT_EQ(TakeUsers(6),
            (std::vector<std::string>{"carol", "bob", "bob", "alice", "alice", "alice"}));
}

TEST_F(SchedulerTest, EqualWeightsShareEvenlyWhateverTheBacklog) {
  Add("big", 1000);
  Add("small", 10);
  const std::map<std::string, int> counts = Counts(TakeUsers(20));
  EXPECT_EQ(counts.at("big"), 10);
  EXPECT_EQ(counts.at("small"), 10);
  EXPECT_EQ(scheduler_->QueuedCount(v1::PRIORITY_CLASS_BATCH, "small"), 0);
  EXPECT_EQ(scheduler_->QueuedCount(v1::PRIORITY_CLASS_BATCH, "big"), 990);
}

TEST_F(SchedulerTest, WeightsSplitInProportion) {
  weights_["alice"] = 2;
  Add("alice", 100);
  Add("bob", 100);
  const std::map<std::string, int> counts = Counts(TakeUsers(30));
  EXPECT_EQ(counts.at("alice"), 20);
  EXPECT_EQ(counts.at("bob"), 10);
}

TEST_F(SchedulerTest, IdleUserBanksNoCredit) {
  Add("alice", 100);
  TakeUsers(50);
  Add("bob", 100);
  // bob starts at alice's pass: the two alternate instead of bob taking 50 in a row.
  const std::map<std::string, int> counts = Counts(TakeUsers(10));
  EXPECT_EQ(counts.at("alice"), 5);
  EXPECT_EQ(counts.at("bob"), 5);
}

TEST_F(SchedulerTest, OldestTransferThenTaskOrderWithinAUser) {
  Add("alice", 2, v1::PRIORITY_CLASS_BATCH, /*transfer=*/7);
  Add("alice", 2, v1::PRIORITY_CLASS_BATCH, /*transfer=*/3);
  absl::StatusOr<std::vector<Scheduler::Pick>> picks = scheduler_->Choose(4);
  ASSERT_TRUE(picks.ok());
  ASSERT_EQ(picks->size(), 4u);
  EXPECT_EQ((*picks)[0].task_key, TaskKey(TransferId(3), 2));
  EXPECT_EQ((*picks)[1].task_key, TaskKey(TransferId(3), 3));
  EXPECT_EQ((*picks)[2].task_key, TaskKey(TransferId(7), 0));
  EXPECT_EQ((*picks)[3].task_key, TaskKey(TransferId(7), 1));
}

TEST_F(SchedulerTest, ChooseChangesNothingUntilTakenAndApplied) {
  Add("alice", 3);
  absl::StatusOr<std::vector<Scheduler::Pick>> first = scheduler_->Choose(2);
  absl::StatusOr<std::vector<Scheduler::Pick>> again = scheduler_->Choose(2);
  ASSERT_TRUE(first.ok() && again.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].queue_key, (*again)[0].queue_key);
  // A batch that never commits leaves memory untouched too.
  rocksdb::WriteBatch uncommitted;
  Scheduler::Delta discarded;
  scheduler_->Take(&uncommitted, (*first)[0], &discarded);
  EXPECT_EQ(scheduler_->TotalQueued(), 3);
}

TEST_F(SchedulerTest, DelayedTaskRunsOnlyWhenDue) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  TaskRecord task = Task("alice", v1::PRIORITY_CLASS_BATCH, 1, 0);
  rocksdb::WriteBatch batch;
  Scheduler::Delta delta;
  scheduler_->EnqueueAfter(&batch, &task, now + absl::Seconds(10), &delta);
  store_->Put(&batch, Family::kTasks, TaskKey(task.transfer_id(), task.seq()), task);
  ASSERT_TRUE(store_->Commit(&batch, Durability::kProcessCrashSafe).ok());
  scheduler_->Apply(delta);
  EXPECT_TRUE(TakeUsers(1).empty());

  for (const auto& [when, expected] : {std::pair{now + absl::Seconds(9), 0},
                                       std::pair{now + absl::Seconds(10), 1}}) {
    rocksdb::WriteBatch promote;
    Scheduler::Delta promoted_delta;
    absl::StatusOr<int> promoted = scheduler_->PromoteDue(when, &promote, &promoted_delta);
    ASSERT_TRUE(promoted.ok());
    EXPECT_EQ(*promoted, expected);
    ASSERT_TRUE(store_->Commit(&promote, Durability::kProcessCrashSafe).ok());
    scheduler_->Apply(promoted_delta);
  }
  EXPECT_EQ(TakeUsers(5), std::vector<std::string>{"alice"});
  TaskRecord stored;
  ASSERT_TRUE(store_->Get(Family::kTasks, TaskKey(TransferId(1), 0), &stored).ok());
  EXPECT_EQ(stored.not_before_unix_ms(), 0);
}

TEST_F(SchedulerTest, RemoveDropsQueuedAndDelayedTasks) {
  TaskRecord queued = Task("alice", v1::PRIORITY_CLASS_BATCH, 1, 0);
  TaskRecord delayed = Task("alice", v1::PRIORITY_CLASS_BATCH, 1, 1);
  rocksdb::WriteBatch batch;
  Scheduler::Delta delta;
  scheduler_->Enqueue(&batch, queued, &delta);
  scheduler_->EnqueueAfter(&batch, &delayed, absl::FromUnixSeconds(5), &delta);
  store_->Put(&batch, Family::kTasks, TaskKey(delayed.transfer_id(), 1), delayed);
  ASSERT_TRUE(store_->Commit(&batch, Durability::kProcessCrashSafe).ok());
  scheduler_->Apply(delta);

  rocksdb::WriteBatch removal;
  Scheduler::Delta removal_delta;
  scheduler_->Remove(&removal, queued, &removal_delta);
  scheduler_->Remove(&removal, delayed, &removal_delta);
  ASSERT_TRUE(store_->Commit(&removal, Durability::kProcessCrashSafe).ok());
  scheduler_->Apply(removal_delta);
  EXPECT_EQ(scheduler_->TotalQueued(), 0);
  rocksdb::WriteBatch promote;
  Scheduler::Delta promote_delta;
  EXPECT_EQ(*scheduler_->PromoteDue(absl::FromUnixSeconds(100), &promote, &promote_delta), 0);
}

TEST_F(SchedulerTest, RecoverRebuildsCountsFromTheQueue) {
  Add("alice", 4);
  Add("bob", 2, v1::PRIORITY_CLASS_GUARANTEED);
  TakeUsers(1);  // bob's first.
  scheduler_ = NewScheduler();
  ASSERT_TRUE(scheduler_->Recover().ok());
  EXPECT_EQ(scheduler_->QueuedCount(v1::PRIORITY_CLASS_BATCH, "alice"), 4);
  EXPECT_EQ(scheduler_->QueuedCount(v1::PRIORITY_CLASS_GUARANTEED, "bob"), 1);
  EXPECT_EQ(TakeUsers(2), (std::vector<std::string>{"bob", "alice"}));
}

TEST_F(SchedulerTest, HeadsNameEachActiveQueueAndItsOldestTransfer) {
  Add("alice", 1, v1::PRIORITY_CLASS_BATCH, /*transfer=*/3);
  Add("alice", 2, v1::PRIORITY_CLASS_BATCH, /*transfer=*/5);
  Add("bob", 1, v1::PRIORITY_CLASS_GUARANTEED, /*transfer=*/4);
  auto heads = scheduler_->Heads();
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 2u);  // Scheduling order: the higher class first.
  EXPECT_EQ((*heads)[0].user, "bob");
  EXPECT_EQ((*heads)[0].priority, v1::PRIORITY_CLASS_GUARANTEED);
  EXPECT_EQ((*heads)[0].queued, 1);
  EXPECT_EQ((*heads)[0].first_transfer_number, 4u);
  EXPECT_EQ((*heads)[1].user, "alice");
  EXPECT_EQ((*heads)[1].queued, 3);
  EXPECT_EQ((*heads)[1].first_transfer_number, 3u);

  // bob's queue empties and alice's transfer 3 leaves the queue: transfer 5 heads it.
  EXPECT_EQ(TakeUsers(2), (std::vector<std::string>{"bob", "alice"}));
  heads = scheduler_->Heads();
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 1u);
  EXPECT_EQ((*heads)[0].user, "alice");
  EXPECT_EQ((*heads)[0].queued, 2);
  EXPECT_EQ((*heads)[0].first_transfer_number, 5u);
}

}  // namespace
}  // namespace ferry::controller
