#include "bwbroker/allocator.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ferry::bwbroker {
namespace {

// Every grant stays an integer below 2^53, so sums of grants are exact in a double.
constexpr double kMaxExactBytesPerSecond = 9007199254740992.0;  // 2^53

// Bytes/s a group may be granted: its demand, rounded down, 0 if negative or NaN.
double Need(double demand) {
  if (!(demand > 0)) return 0;
  return std::floor(std::min(demand, kMaxExactBytesPerSecond));
}

// Higher class, higher rank: served first.
int Rank(v1::PriorityClass priority) { return static_cast<int>(EffectivePriority(priority)); }

}  // namespace

v1::PriorityClass EffectivePriority(v1::PriorityClass priority) {
  switch (priority) {
    case v1::PRIORITY_CLASS_BEST_EFFORT:
    case v1::PRIORITY_CLASS_BATCH:
    case v1::PRIORITY_CLASS_GUARANTEED:
      return priority;
    default:
      return v1::PRIORITY_CLASS_BATCH;
  }
}

// What one group still competes for within its class on one link.
struct Allocator::Work {
  struct Item {
    int rank;      // Class: higher is served first.
    double ratio;  // need / weight: the order in which groups are satisfied.
    double weight;
    double need;   // Demand not yet granted (whole bytes/s).
    size_t index;  // Into the demands and grants.
  };
  std::vector<Item> items;  // Reused from link to link.
  std::vector<double>* grants;
};

Allocator::Allocator(const BrokerConfig& config)
    : default_capacity_(config.default_capacity_bytes_per_second()) {
  for (const Link& link : config.links()) {
    link_index_[link.source_cluster()][link.destination_cluster()] =
        static_cast<int>(links_.size());
    links_.push_back(
        {link.source_cluster(), link.destination_cluster(), link.capacity_bytes_per_second(), {}});
  }
  for (const Quota& quota : config.quotas()) {
    const int link = FindLink(quota.source_cluster(), quota.destination_cluster());
    if (link >= 0) links_[link].quotas[quota.user()] = quota.bytes_per_second();
  }
  for (const UserWeight& entry : config.user_weights()) {
    UserWeights& weights = weights_[entry.user()];
    if (entry.priority() == v1::PRIORITY_CLASS_UNSPECIFIED ||
        !v1::PriorityClass_IsValid(entry.priority())) {
      weights.any_class = entry.weight();
    } else {
      weights.by_class[entry.priority()] = entry.weight();
    }
  }
}

int Allocator::FindLink(absl::string_view source, absl::string_view destination) const {
  const auto from = link_index_.find(source);
  if (from == link_index_.end()) return -1;
  const auto to = from->second.find(destination);
  return to == from->second.end() ? -1 : to->second;
}

double Allocator::WeightOf(absl::string_view user, v1::PriorityClass priority) const {
  const auto it = weights_.find(user);
  if (it == weights_.end()) return 1;
  const double by_class = it->second.by_class[EffectivePriority(priority)];
  return by_class > 0 ? by_class : it->second.any_class;
}

Allocation Allocator::Allocate(absl::Span<const GroupDemand> demands) const {
  Allocation result;
  result.grants.assign(demands.size(), 0);
  result.links.reserve(links_.size());
  for (const LinkSpec& spec : links_) {
    LinkUsage& link = result.links.emplace_back();
    link.source_cluster = spec.source_cluster;
    link.destination_cluster = spec.destination_cluster;
    link.capacity_bytes_per_second = spec.capacity;
    link.configured = true;
  }
  // Pairs without a configured link, by (source, destination): index into result.links.
  absl::flat_hash_map<std::pair<std::string, std::string>, size_t> implied;
  for (size_t i = 0; i < demands.size(); ++i) {
    const FlowGroupKey& group = demands[i].group;
    const int configured = FindLink(group.source_cluster, group.destination_cluster);
    size_t link = static_cast<size_t>(configured);
    if (configured < 0) {
      const auto [it, inserted] = implied.try_emplace(
          std::make_pair(group.source_cluster, group.destination_cluster), result.links.size());
      if (inserted) {
        LinkUsage& usage = result.links.emplace_back();
        usage.source_cluster = group.source_cluster;
        usage.destination_cluster = group.destination_cluster;
        usage.capacity_bytes_per_second =
            default_capacity_ > 0 ? default_capacity_ : std::numeric_limits<double>::infinity();
      }
      link = it->second;
    }
    result.links[link].groups.push_back(i);
  }
  Work work;
  work.grants = &result.grants;
  for (size_t i = 0; i < result.links.size(); ++i) {
    AllocateLink(i < links_.size() ? &links_[i] : nullptr, demands, result.links[i], work);
  }
  return result;
}

namespace {

// Weighted max-min fair shares of `remaining` over `items` (one class, sorted by need /
// weight): each in turn gets its need if that is below its weighted share of what is
// left, else that share; what it does not take raises the others' shares. Grants and
// `remaining` stay whole numbers, so no share can overshoot. Returns what is left
// (0 unless every group got its need); leaves in each item's `need` what it still lacks.
template <typename Item>
double WaterFill(absl::Span<Item> items, double remaining, std::vector<double>& grants) {
  double weight_left = 0;
  for (const Item& item : items) weight_left += item.weight;
  for (size_t k = 0; k < items.size() && remaining > 0; ++k) {
    Item& item = items[k];
    const double share =
        k + 1 == items.size() ? remaining : std::floor(item.weight * remaining / weight_left);
    const double grant = std::min({item.need, share, remaining});
    grants[item.index] += grant;
    item.need -= grant;
    remaining -= grant;
    weight_left -= item.weight;
  }
  // Rounding down can leave a few bytes/s while a group of this class still wants
  // more; they are its, not the lower classes'.
  for (size_t k = 0; k < items.size() && remaining > 0; ++k) {
    const double more = std::min(items[k].need, remaining);
    grants[items[k].index] += more;
    remaining -= more;
  }
  return remaining;
}

}  // namespace

void Allocator::AllocateLink(const LinkSpec* spec, absl::Span<const GroupDemand> demands,
                             LinkUsage& link, Work& work) const {
  std::vector<double>& grants = *work.grants;
  for (size_t i : link.groups) link.demand_bytes_per_second += Need(demands[i].bytes_per_second);
  if (std::isinf(link.capacity_bytes_per_second)) {
    for (size_t i : link.groups) grants[i] = Need(demands[i].bytes_per_second);
    link.allocated_bytes_per_second = link.demand_bytes_per_second;
    return;
  }
  double remaining = std::floor(link.capacity_bytes_per_second);
  work.items.clear();
  for (size_t i : link.groups) {
    const FlowGroupKey& group = demands[i].group;
    double need = Need(demands[i].bytes_per_second);
    const v1::PriorityClass priority = EffectivePriority(group.priority);
    if (spec != nullptr && priority == v1::PRIORITY_CLASS_GUARANTEED) {
      const auto quota = spec->quotas.find(group.user);
      if (quota != spec->quotas.end()) {
        const double served = std::min({need, std::floor(quota->second), remaining});
        grants[i] = served;
        need -= served;
        remaining -= served;
      }
    }
    if (need <= 0) continue;
    const double weight = WeightOf(group.user, priority);
    work.items.push_back({Rank(priority), need / weight, weight, need, i});
  }
  std::sort(work.items.begin(), work.items.end(), [](const auto& a, const auto& b) {
    if (a.rank != b.rank) return a.rank > b.rank;
    if (a.ratio != b.ratio) return a.ratio < b.ratio;
    return a.index < b.index;
  });
  const absl::Span<Work::Item> items(work.items);
  for (size_t begin = 0; begin < items.size() && remaining > 0;) {
    size_t end = begin;
    while (end < items.size() && items[end].rank == items[begin].rank) ++end;
    remaining = WaterFill(items.subspan(begin, end - begin), remaining, grants);
    begin = end;
  }
  for (size_t i : link.groups) link.allocated_bytes_per_second += grants[i];
}

}  // namespace ferry::bwbroker
