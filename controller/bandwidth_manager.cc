#include "controller/bandwidth_manager.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "bwclient/flow_group.h"
#include "glog/logging.h"

namespace ferry::controller {
namespace {

struct GroupTasks {
  v1::FlowGroup group;
  int total = 0;
  int of_worker = 0;
};

}  // namespace

std::string FlowGroupKeyString(const v1::FlowGroup& group) {
  return absl::StrCat(group.source_cluster(), "->", group.destination_cluster(), "/",
                      static_cast<int>(group.priority()), "/", group.user());
}

v1::FlowGroup FlowGroupOf(const v1::Transfer& transfer, const std::string& destination_cluster) {
  v1::FlowGroup group;
  group.set_source_cluster(transfer.source().cluster());
  group.set_destination_cluster(destination_cluster);
  group.set_user(transfer.user());
  group.set_priority(transfer.priority() == v1::PRIORITY_CLASS_UNSPECIFIED
                         ? v1::PRIORITY_CLASS_BATCH
                         : transfer.priority());
  return group;
}

absl::Status BandwidthManager::Validate(const BandwidthOptions& options) {
  const double ceiling = options.per_task_ceiling_bytes_per_second;
  if (!std::isfinite(ceiling) || ceiling <= 0) {
    return absl::InvalidArgumentError(
        "per_task_ceiling_bytes_per_second: must be a finite number > 0");
  }
  return absl::OkStatus();
}

BandwidthManager::BandwidthManager(bwclient::BandwidthClient* client, BandwidthOptions options)
    : client_(client), options_(options) {}

std::vector<v1::RateLimit> BandwidthManager::Update(absl::Span<const ActiveTask> active,
                                                    const std::string& worker_id) {
  // Ordered, so the demand list and the limits come out in a stable order.
  std::map<std::string, GroupTasks> groups;
  for (const ActiveTask& task : active) {
    if (task.group.source_cluster().empty()) continue;
    GroupTasks& tasks = groups[FlowGroupKeyString(task.group)];
    if (tasks.total == 0) tasks.group = task.group;
    ++tasks.total;
    if (task.worker_id == worker_id) ++tasks.of_worker;
  }
  std::vector<v1::FlowDemand> demands;
  demands.reserve(groups.size());
  for (const auto& [key, tasks] : groups) {
    v1::FlowDemand& demand = demands.emplace_back();
    *demand.mutable_group() = tasks.group;
    demand.set_demand_bytes_per_second(tasks.total * options_.per_task_ceiling_bytes_per_second);
  }
  if (absl::Status s = client_->ReplaceDemands(demands); !s.ok()) {
    // Only an invalid group (a transfer the controller should not have accepted) gets
    // here; its limits still follow the client's rates below.
    LOG(ERROR) << "bandwidth demands not reported: " << s;
  }
  std::vector<v1::RateLimit> limits;
  absl::flat_hash_set<std::string> starved;
  for (const auto& [key, tasks] : groups) {
    const double rate = client_->RateFor(tasks.group);
    if (rate <= 0) starved.insert(key);
    if (tasks.of_worker == 0) continue;
    v1::RateLimit& limit = limits.emplace_back();
    limit.set_flow_group(key);
    limit.set_bytes_per_second(
        rate <= 0 ? kNoBandwidthRate : rate * tasks.of_worker / tasks.total);
  }
  absl::MutexLock lock(&mu_);
  starved_ = std::move(starved);
  return limits;
}

bool BandwidthManager::Starved(const v1::FlowGroup& group) const {
  absl::MutexLock lock(&mu_);
  return starved_.contains(FlowGroupKeyString(group));
}

}  // namespace ferry::controller
