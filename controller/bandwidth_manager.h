// BandwidthManager: the controller's side of bandwidth management. It turns the tasks
// leased to this cluster's copyd workers into demands for the bandwidth broker (through
// the narrow bwclient::BandwidthClient) and the broker's grants into the per-worker
// RateLimits of HeartbeatResponse. It knows nothing of how the broker allocates.
//
// Flow group of a transfer: (source cluster, this cluster, user, priority class). Its
// opaque key in Task.flow_group and RateLimit.flow_group is FlowGroupKeyString.
//
// Demand model: a group's demand is (its leased tasks) x per_task_ceiling. Queued tasks
// are deliberately not counted: a task moves no bytes until a worker slot leases it,
// and a free slot leases within one LeaseTasks poll, so leased tasks are the
// parallelism the group can use now; counting queued work would claim share that no
// worker could spend and take it from other groups under max-min fairness.
//
// Division: a worker gets grant x (its active tasks in the group) / (the group's
// active tasks), so the group's workers together never exceed the grant.
//
// A grant of 0: RateLimit reads 0 as "no limit", so 0 is never sent. The worker gets
// kNoBandwidthRate (1 byte/s: its tasks keep their leases and effectively wait; a new
// grant applies at once to the waiting reads), and the group counts as starved, which
// the transfer manager reports as the stalled reason "no bandwidth".
//
// Ownership: `client` is not owned and must outlive the manager. Thread safety: every
// method may be called concurrently.
#ifndef FERRY_CONTROLLER_BANDWIDTH_MANAGER_H_
#define FERRY_CONTROLLER_BANDWIDTH_MANAGER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "bwclient/bandwidth_client.h"
#include "proto/bandwidth_broker.pb.h"
#include "proto/copy_service.pb.h"
#include "proto/worker_service.pb.h"

namespace ferry::controller {

// What a worker is sent for a group the broker granted 0.
inline constexpr double kNoBandwidthRate = 1.0;

struct BandwidthOptions {
  // Demand of one leased task, bytes per second; > 0.
  double per_task_ceiling_bytes_per_second = 1e9;
};

// "<source>-><destination>/<priority number>/<user>": cluster names hold neither '/'
// nor "->" (common/location.h), and the user comes last, so keys never collide.
std::string FlowGroupKeyString(const v1::FlowGroup& group);

// The flow group of `transfer` copied into `destination_cluster` (this controller's);
// an unspecified priority is BATCH, as CreateTransfer reads it.
v1::FlowGroup FlowGroupOf(const v1::Transfer& transfer, const std::string& destination_cluster);

class BandwidthManager {
 public:
  // A leased task: who runs it, for which group.
  struct ActiveTask {
    std::string worker_id;
    v1::FlowGroup group;
  };

  // INVALID_ARGUMENT naming the option if it is out of range.
  static absl::Status Validate(const BandwidthOptions& options);

  BandwidthManager(bwclient::BandwidthClient* client, BandwidthOptions options);

  // Reports the demand of `active` (every leased task of the cluster) and returns the
  // limits of `worker_id`: one per group it has active tasks in. Tasks without a group
  // (no source cluster: leases recovered without their transfer) are left out. Called
  // on each heartbeat; O(active tasks).
  std::vector<v1::RateLimit> Update(absl::Span<const ActiveTask> active,
                                    const std::string& worker_id);

  // Whether `group` had a rate of 0 at the last Update.
  bool Starved(const v1::FlowGroup& group) const;

 private:
  bwclient::BandwidthClient* const client_;
  const BandwidthOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> starved_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_BANDWIDTH_MANAGER_H_
