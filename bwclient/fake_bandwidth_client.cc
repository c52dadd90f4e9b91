#include "bwclient/fake_bandwidth_client.h"

namespace ferry::bwclient {

FakeBandwidthClient::FakeBandwidthClient(double default_rate_bytes_per_second)
    : default_rate_(default_rate_bytes_per_second) {}

absl::Status FakeBandwidthClient::ReplaceDemands(absl::Span<const v1::FlowDemand> demands) {
  if (absl::Status status = ValidateDemands(demands); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  demands_.assign(demands.begin(), demands.end());
  ++replace_calls_;
  return absl::OkStatus();
}

double FakeBandwidthClient::RateFor(const v1::FlowGroup& group) const {
  absl::MutexLock lock(&mu_);
  const auto it = rates_.find(KeyOf(group));
  return it == rates_.end() ? default_rate_ : it->second;
}

BandwidthSnapshot FakeBandwidthClient::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::map<FlowGroupKey, FlowGroupRate> groups;
  for (const auto& [key, rate] : rates_) {
    FlowGroupRate& entry = groups[key];
    entry.group = GroupOf(key);
    entry.basis = RateBasis::kGrant;
    entry.rate_bytes_per_second = rate;
    entry.last_grant_bytes_per_second = rate;
    entry.lease_expiry = absl::InfiniteFuture();
  }
  for (const v1::FlowDemand& demand : demands_) {
    const FlowGroupKey key = KeyOf(demand.group());
    auto [it, added] = groups.try_emplace(key);
    if (added) {
      it->second.group = demand.group();
      it->second.rate_bytes_per_second = default_rate_;
    }
    it->second.demand_bytes_per_second = demand.demand_bytes_per_second();
  }
  BandwidthSnapshot snapshot;
  for (auto& [key, entry] : groups) snapshot.groups.push_back(std::move(entry));
  snapshot.broker_reachable = broker_reachable_;
  if (!broker_reachable_) {
    snapshot.consecutive_failures = 1;
    snapshot.last_error = absl::UnavailableError("fake broker unreachable");
  }
  return snapshot;
}

void FakeBandwidthClient::SetRate(const v1::FlowGroup& group, double bytes_per_second) {
  absl::MutexLock lock(&mu_);
  rates_[KeyOf(group)] = bytes_per_second;
}

void FakeBandwidthClient::SetDefaultRate(double bytes_per_second) {
  absl::MutexLock lock(&mu_);
  default_rate_ = bytes_per_second;
}

void FakeBandwidthClient::SetBrokerReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  broker_reachable_ = reachable;
}

std::vector<v1::FlowDemand> FakeBandwidthClient::demands() const {
  absl::MutexLock lock(&mu_);
  return demands_;
}

int FakeBandwidthClient::replace_calls() const {
  absl::MutexLock lock(&mu_);
  return replace_calls_;
}

}  // namespace ferry::bwclient
