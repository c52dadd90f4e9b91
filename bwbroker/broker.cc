#include "bwbroker/broker.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bwbroker/config.h"
#include "common/location.h"
#include "google/protobuf/timestamp.pb.h"

namespace ferry::bwbroker {
namespace {

constexpr size_t kMaxIdBytes = 256;  // client_id and user
constexpr int kMaxDemandsPerReport = 100000;

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status ValidateName(const std::string& name, absl::string_view field) {
  if (name.empty()) return Invalid(field, "required");
  if (name.size() > kMaxIdBytes) return Invalid(field, "longer than 256 bytes");
  return absl::OkStatus();
}

absl::StatusOr<FlowGroupKey> ValidateGroup(const v1::FlowDemand& demand, const std::string& field) {
  if (!demand.has_group()) return Invalid(field, "required");
  const v1::FlowGroup& group = demand.group();
  for (auto [name, suffix] :
       {std::pair<const std::string*, const char*>{&group.source_cluster(), ".source_cluster"},
        {&group.destination_cluster(), ".destination_cluster"}}) {
    if (absl::Status s = ValidateClusterName(*name, absl::StrCat(field, suffix)); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = ValidateName(group.user(), absl::StrCat(field, ".user")); !s.ok()) {
    return s;
  }
  if (!v1::PriorityClass_IsValid(group.priority())) {
    return Invalid(absl::StrCat(field, ".priority"),
                   absl::StrCat("unknown priority class ", group.priority()));
  }
  return FlowGroupKey{group.source_cluster(), group.destination_cluster(), group.user(),
                      EffectivePriority(group.priority())};
}

// The request's demands as the broker keeps them, or INVALID_ARGUMENT naming the field.
absl::StatusOr<std::vector<GroupDemand>> ValidateReport(const v1::ReportDemandsRequest& request) {
  if (absl::Status s = ValidateName(request.client_id(), "client_id"); !s.ok()) return s;
  if (request.demands_size() > kMaxDemandsPerReport) {
    return Invalid("demands", absl::StrCat(request.demands_size(), " entries; at most ",
                                           kMaxDemandsPerReport, " per report"));
  }
  std::vector<GroupDemand> demands;
  demands.reserve(request.demands_size());
  absl::flat_hash_map<FlowGroupKey, int> seen;
  for (int i = 0; i < request.demands_size(); ++i) {
    const v1::FlowDemand& demand = request.demands(i);
    const std::string field = absl::StrCat("demands[", i, "]");
    absl::StatusOr<FlowGroupKey> group = ValidateGroup(demand, absl::StrCat(field, ".group"));
    if (!group.ok()) return group.status();
    const double rate = demand.demand_bytes_per_second();
    if (!(rate >= 0 && std::isfinite(rate))) {
      return Invalid(absl::StrCat(field, ".demand_bytes_per_second"),
                     absl::StrCat("must be a finite number >= 0 (got ", rate, ")"));
    }
    const auto [it, inserted] = seen.try_emplace(*group, i);
    if (!inserted) {
      return Invalid(absl::StrCat(field, ".group"),
                     absl::StrCat("repeats demands[", it->second,
                                  "].group (PRIORITY_CLASS_UNSPECIFIED counts as BATCH)"));
    }
    demands.push_back({*std::move(group), rate});
  }
  return demands;
}

bool SameDemands(const std::vector<GroupDemand>& a, const std::vector<GroupDemand>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].group != b[i].group || a[i].bytes_per_second != b[i].bytes_per_second) {
      return false;
    }
  }
  return true;
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(time);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

void SetGroup(const FlowGroupKey& key, v1::FlowGroup* out) {
  out->set_source_cluster(key.source_cluster);
  out->set_destination_cluster(key.destination_cluster);
  out->set_user(key.user);
  out->set_priority(key.priority);
}

}  // namespace

Broker::Broker(BrokerConfig config, const Clock* clock, RecomputeObserver* observer)
    : config_(std::move(config)), allocator_(config_), clock_(clock), observer_(observer) {
  absl::MutexLock lock(&mu_);
  RecomputeLocked(clock_->Now());
}

Broker::~Broker() { Stop(); }

void Broker::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  // The first deadline is taken now, not when the thread gets to run, so time that
  // passes in between (a test advancing its clock) counts.
  const absl::Time first = clock_->Now() + RecomputePeriod(config_);
  thread_ = std::thread([this, first] { Run(first); });
}

void Broker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Broker::Run(absl::Time next) {
  absl::MutexLock lock(&mu_);
  const absl::Duration period = RecomputePeriod(config_);
  while (!clock_->AwaitWithDeadline(&mu_, absl::Condition(&stopping_), next)) {
    const absl::Time now = clock_->Now();
    TickLocked(now);
    next = now + period;
  }
}

void Broker::Tick() {
  absl::MutexLock lock(&mu_);
  TickLocked(clock_->Now());
}

void Broker::TickLocked(absl::Time now) {
  const absl::Time forget_before = now - ClientExpiry(config_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    it = it->second.last_report < forget_before ? clients_.erase(it) : std::next(it);
  }
  RecomputeLocked(now);
}

void Broker::RecomputeLocked(absl::Time now) {
  const auto start = std::chrono::steady_clock::now();
  auto snapshot = std::make_shared<AllocationSnapshot>();
  size_t demands = 0;
  for (const auto& [id, client] : clients_) demands += client.demands.size();
  // No reallocation below: group_index_ points at the keys in snapshot->groups.
  snapshot->groups.reserve(demands);
  group_index_.clear();
  group_index_.reserve(demands);
  for (const auto& [id, client] : clients_) {
    for (const GroupDemand& demand : client.demands) {
      auto it = group_index_.find(&demand.group);
      if (it == group_index_.end()) {
        snapshot->groups.push_back({demand.group, 0});
        it =
            group_index_.emplace(&snapshot->groups.back().group, snapshot->groups.size() - 1).first;
      }
      snapshot->groups[it->second].bytes_per_second += demand.bytes_per_second;
    }
  }
  snapshot->allocation = allocator_.Allocate(snapshot->groups);
  snapshot->computed_time = now;
  snapshot_ = std::move(snapshot);
  ++recomputes_;
  if (observer_ != nullptr) {
    observer_->Recomputed(snapshot_, absl::FromChrono(std::chrono::steady_clock::now() - start));
  }
}

double Broker::ClientGrantLocked(const GroupDemand& demand) const {
  const auto it = group_index_.find(&demand.group);
  if (it == group_index_.end()) return 0;  // Not reached: every kept demand is grouped.
  const double total = snapshot_->groups[it->second].bytes_per_second;
  const double grant = snapshot_->allocation.grants[it->second];
  if (demand.bytes_per_second >= total) return grant;  // The group's only client.
  if (!(total > 0)) return 0;
  return std::floor(grant * (demand.bytes_per_second / total));
}

absl::StatusOr<v1::ReportDemandsResponse> Broker::ReportDemands(
    const v1::ReportDemandsRequest& request) {
  absl::StatusOr<std::vector<GroupDemand>> demands = ValidateReport(request);
  if (!demands.ok()) return demands.status();
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  Client& client = clients_[request.client_id()];
  client.last_report = now;
  if (!SameDemands(client.demands, *demands)) {
    client.demands = *std::move(demands);
    RecomputeLocked(now);
  }
  v1::ReportDemandsResponse response;
  response.set_report_interval_ms(config_.report_interval_ms());
  const absl::Time expiry = now + LeaseDuration(config_);
  for (int i = 0; i < request.demands_size(); ++i) {
    v1::FlowGrant* grant = response.add_grants();
    *grant->mutable_group() = request.demands(i).group();  // As the client sent it.
    grant->set_rate_bytes_per_second(ClientGrantLocked(client.demands[i]));
    SetTimestamp(expiry, grant->mutable_lease_expiry());
  }
  return response;
}

v1::ListAllocationsResponse Broker::ListAllocations() const {
  std::shared_ptr<const AllocationSnapshot> snapshot;
  {
    absl::MutexLock lock(&mu_);
    snapshot = snapshot_;
  }
  v1::ListAllocationsResponse response;
  const absl::Time expiry = snapshot->computed_time + LeaseDuration(config_);
  for (const LinkUsage& link : snapshot->allocation.links) {
    v1::LinkAllocation* out = response.add_links();
    out->set_source_cluster(link.source_cluster);
    out->set_destination_cluster(link.destination_cluster);
    out->set_capacity_bytes_per_second(link.capacity_bytes_per_second);
    out->set_demand_bytes_per_second(link.demand_bytes_per_second);
    out->set_allocated_bytes_per_second(link.allocated_bytes_per_second);
    for (size_t i : link.groups) {
      v1::FlowGrant* grant = out->add_grants();
      SetGroup(snapshot->groups[i].group, grant->mutable_group());
      grant->set_rate_bytes_per_second(snapshot->allocation.grants[i]);
      SetTimestamp(expiry, grant->mutable_lease_expiry());
    }
  }
  SetTimestamp(snapshot->computed_time, response.mutable_computed_time());
  return response;
}

int64_t Broker::recompute_count() const {
  absl::MutexLock lock(&mu_);
  return recomputes_;
}

size_t Broker::client_count() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

}  // namespace ferry::bwbroker
