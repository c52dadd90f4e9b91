// TransferManager's side of bandwidth management (see bandwidth_manager.h): the rate
// limits a heartbeat carries and the "no bandwidth" stalled reason.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bwclient/flow_group.h"
#include "controller/transfer_manager.h"

namespace ferry::controller {

void TransferManager::AddRateLimits(const std::string& worker_id,
                                    v1::HeartbeatResponse* response) {
  std::vector<BandwidthManager::ActiveTask> active;
  active.reserve(leases_.size());
  for (const auto& [key, lease] : leases_) {
    active.push_back(BandwidthManager::ActiveTask{lease.worker_id, lease.flow_group});
  }
  for (v1::RateLimit& limit : options_.bandwidth->Update(active, worker_id)) {
    *response->add_rate_limits() = std::move(limit);
  }
}

std::string TransferManager::BandwidthStallReason(const std::string& id) const {
  if (options_.bandwidth == nullptr) return "";
  const std::string prefix = absl::StrCat(id, "/");
  for (const auto& [task_key, lease] : leases_) {
    if (absl::StartsWith(task_key, prefix) && options_.bandwidth->Starved(lease.flow_group)) {
      return absl::StrCat("no bandwidth: the broker grants 0 bytes/s to flow group ",
                          bwclient::FlowGroupName(lease.flow_group));
    }
  }
  return "";
}

}  // namespace ferry::controller
