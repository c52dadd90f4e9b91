// TransferManager's read-only views for metrics (controller/metrics.h), kept apart from
// the state machine in transfer_manager.cc.
#include <utility>

#include "controller/transfer_manager.h"
#include "google/protobuf/util/time_util.h"

namespace ferry::controller {

absl::StatusOr<std::vector<QueueStat>> TransferManager::QueueStats() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<Scheduler::QueueHead>> heads = scheduler_.Heads();
  if (!heads.ok()) return heads.status();
  std::vector<QueueStat> stats;
  stats.reserve(heads->size());
  for (Scheduler::QueueHead& head : *heads) {
    QueueStat stat;
    stat.priority = static_cast<v1::PriorityClass>(head.priority);
    stat.user = std::move(head.user);
    stat.queued = head.queued;
    TransferRecord record;
    if (LoadTransfer(TransferId(head.first_transfer_number), &record).ok() &&
        record.transfer().has_create_time()) {
      stat.oldest_create_time =
          absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(
              record.transfer().create_time()));
    }
    stats.push_back(std::move(stat));
  }
  return stats;
}

}  // namespace ferry::controller
