#include "controller/scheduler.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ferry::controller {
namespace {

constexpr int kMaxPromotionsPerCall = 10000;
constexpr size_t kDelayedTimeDigits = 16;
constexpr size_t kTransferNumberDigits = 16;  // QueueKey: prefix %016x/%016x.

std::string Successor(absl::string_view key) { return absl::StrCat(key, std::string(1, '\0')); }

}  // namespace

std::string DelayedKey(absl::Time not_before, absl::string_view task_key) {
  return absl::StrFormat("%016x%s", std::max<int64_t>(absl::ToUnixMillis(not_before), 0),
                         task_key);
}

Scheduler::Scheduler(Store* store, WeightFunction weight)
    : store_(store), weight_(std::move(weight)) {}

absl::Status Scheduler::Recover() {
  queues_.clear();
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kQueue);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const size_t end_of_user = key.ToStringView().find('\0', 1);
    if (key.size() < 2 || end_of_user == std::string::npos) {
      return absl::DataLossError(absl::StrCat("malformed queue key of ", key.size(), " bytes"));
    }
    const int priority = 255 - static_cast<unsigned char>(key[0]);
    const std::string user(key.data() + 1, end_of_user - 1);
    UserQueue& queue = QueueOf(priority, user);
    if (queue.count == 0) queue.scan_from = key.ToString();
    ++queue.count;
  }
  return FromRocksStatus(it->status(), "scan queue");
}

Scheduler::UserQueue& Scheduler::QueueOf(int priority, const std::string& user) {
  return queues_[ClassKey(255 - priority, user)];
}

double Scheduler::MinActivePass(int priority) const {
  double lowest = std::numeric_limits<double>::infinity();
  for (auto it = queues_.lower_bound(ClassKey(255 - priority, ""));
       it != queues_.end() && it->first.first == 255 - priority; ++it) {
    if (it->second.count > 0) lowest = std::min(lowest, it->second.pass);
  }
  return lowest == std::numeric_limits<double>::infinity() ? 0 : lowest;
}

void Scheduler::Enqueue(rocksdb::WriteBatch* batch, const TaskRecord& task, Delta* delta) {
  const std::string key =
      QueueKey(task.priority(), task.user(), task.transfer_number(), task.seq());
  batch->Put(store_->Handle(Family::kQueue), key, TaskKey(task.transfer_id(), task.seq()));
  delta->changes_.push_back({task.priority(), task.user(), +1, false, key});
}

void Scheduler::EnqueueAfter(rocksdb::WriteBatch* batch, TaskRecord* task,
                             absl::Time not_before, Delta* /*delta*/) {
  task->set_not_before_unix_ms(std::max<int64_t>(absl::ToUnixMillis(not_before), 1));
  batch->Put(store_->Handle(Family::kDelayed),
             DelayedKey(absl::FromUnixMillis(task->not_before_unix_ms()),
                        TaskKey(task->transfer_id(), task->seq())),
             "");
}

void Scheduler::Remove(rocksdb::WriteBatch* batch, const TaskRecord& task, Delta* delta) {
  const std::string task_key = TaskKey(task.transfer_id(), task.seq());
  if (task.not_before_unix_ms() > 0) {
    batch->Delete(store_->Handle(Family::kDelayed),
                  DelayedKey(absl::FromUnixMillis(task.not_before_unix_ms()), task_key));
    return;
  }
  const std::string key =
      QueueKey(task.priority(), task.user(), task.transfer_number(), task.seq());
  batch->Delete(store_->Handle(Family::kQueue), key);
  delta->changes_.push_back({task.priority(), task.user(), -1, false, key});
}

absl::StatusOr<std::vector<Scheduler::Pick>> Scheduler::Choose(int max) const {
  std::map<ClassKey, UserQueue> simulated = queues_;
  std::vector<Pick> picks;
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kQueue);
  while (static_cast<int>(picks.size()) < max) {
    // The highest class with work, then the lowest pass within it.
    auto best = simulated.end();
    for (auto q = simulated.begin(); q != simulated.end(); ++q) {
      if (q->second.count <= 0) continue;
      if (best != simulated.end() && q->first.first != best->first.first) break;
      if (best == simulated.end() || q->second.pass < best->second.pass) best = q;
    }
    if (best == simulated.end()) break;
    const int priority = 255 - best->first.first;
    const std::string& user = best->first.second;
    UserQueue& queue = best->second;
    const std::string prefix = QueuePrefix(priority, user);
    it->Seek(std::max(queue.scan_from, prefix));
    if (!it->Valid() || !it->key().starts_with(prefix)) {
      if (!it->status().ok()) return FromRocksStatus(it->status(), "scan queue");
      queue.count = 0;  // Counts ran ahead of the queue; nothing more for this user.
      continue;
    }
    picks.push_back({it->key().ToString(), it->value().ToString(), priority, user});
    queue.scan_from = Successor(picks.back().queue_key);
    --queue.count;
    queue.pass += 1.0 / std::max(weight_(user), 1e-6);
  }
  return picks;
}

void Scheduler::Take(rocksdb::WriteBatch* batch, const Pick& pick, Delta* delta) {
  batch->Delete(store_->Handle(Family::kQueue), pick.queue_key);
  delta->changes_.push_back({pick.priority, pick.user, -1, true, pick.queue_key});
}

absl::StatusOr<int> Scheduler::PromoteDue(absl::Time now, rocksdb::WriteBatch* batch,
                                          Delta* delta) {
  const int64_t now_ms = absl::ToUnixMillis(now);
  int promoted = 0;
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kDelayed);
  for (it->SeekToFirst(); it->Valid() && promoted < kMaxPromotionsPerCall; it->Next()) {
    const std::string key = it->key().ToString();
    int64_t due_ms = 0;
    if (key.size() <= kDelayedTimeDigits ||
        !absl::SimpleHexAtoi(key.substr(0, kDelayedTimeDigits), &due_ms)) {
      batch->Delete(store_->Handle(Family::kDelayed), key);  // Malformed: drop it.
      continue;
    }
    if (due_ms > now_ms) break;
    batch->Delete(store_->Handle(Family::kDelayed), key);
    TaskRecord task;
    const std::string task_key = key.substr(kDelayedTimeDigits);
    if (!store_->Get(Family::kTasks, task_key, &task).ok()) continue;
    if (task.state() != TASK_STATE_QUEUED || task.not_before_unix_ms() != due_ms) continue;
    task.clear_not_before_unix_ms();
    store_->Put(batch, Family::kTasks, task_key, task);
    Enqueue(batch, task, delta);
    ++promoted;
  }
  if (!it->status().ok()) return FromRocksStatus(it->status(), "scan delayed");
  return promoted;
}

void Scheduler::Apply(const Delta& delta) {
  for (const Delta::Change& change : delta.changes_) {
    UserQueue& queue = QueueOf(change.priority, change.user);
    if (change.count_change > 0) {
      if (queue.count == 0) queue.pass = MinActivePass(change.priority);
      if (queue.count == 0 || change.queue_key < queue.scan_from) {
        queue.scan_from = change.queue_key;
      }
    }
    queue.count = std::max<int64_t>(queue.count + change.count_change, 0);
    if (change.taken) {
      queue.pass += 1.0 / std::max(weight_(change.user), 1e-6);
      queue.scan_from = std::max(queue.scan_from, Successor(change.queue_key));
    }
  }
}

int64_t Scheduler::QueuedCount(int priority, const std::string& user) const {
  auto it = queues_.find(ClassKey(255 - priority, user));
  return it == queues_.end() ? 0 : it->second.count;
}

absl::StatusOr<std::vector<Scheduler::QueueHead>> Scheduler::Heads() const {
  std::vector<QueueHead> heads;
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(Family::kQueue);
  for (const auto& [class_key, queue] : queues_) {
    if (queue.count <= 0) continue;
    const int priority = 255 - class_key.first;
    const std::string prefix = QueuePrefix(priority, class_key.second);
    it->Seek(std::max(queue.scan_from, prefix));
    if (!it->Valid() || !it->key().starts_with(prefix)) {
      if (!it->status().ok()) return FromRocksStatus(it->status(), "scan queue");
      continue;  // Counts ran ahead of the queue (see Choose).
    }
    uint64_t transfer_number = 0;
    const absl::string_view rest =
        absl::string_view(it->key().data(), it->key().size()).substr(prefix.size());
    if (rest.size() < kTransferNumberDigits ||
        !absl::SimpleHexAtoi(rest.substr(0, kTransferNumberDigits), &transfer_number)) {
      return absl::DataLossError(absl::StrCat("malformed queue key of ", it->key().size(),
                                              " bytes"));
    }
    heads.push_back({priority, class_key.second, queue.count, transfer_number});
  }
  return heads;
}

int64_t Scheduler::TotalQueued() const {
  int64_t total = 0;
  for (const auto& [key, queue] : queues_) total += queue.count;
  return total;
}

}  // namespace ferry::controller
