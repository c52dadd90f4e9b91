#include "bwbroker/metrics.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "prometheus/metric_family.h"

namespace ferry::bwbroker {
namespace {

using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Gauge;

// 0.1 ms .. 10 s: 10,000 groups recompute in milliseconds; a slow one is the news.
prometheus::Histogram::BucketBoundaries RecomputeBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
}

prometheus::Family<Gauge>& GaugeFamily(prometheus::Registry& registry, const std::string& name,
                                       const std::string& help) {
  return BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Labels LinkLabels(const std::string& source, const std::string& destination) {
  return {{"source", source}, {"destination", destination}};
}

prometheus::Labels GroupLabels(const FlowGroupKey& group) {
  return {{"source", group.source_cluster},
          {"destination", group.destination_cluster},
          {"user", group.user},
          {"priority", PriorityLabel(group.priority)}};
}

// Drops the series whose generation is older than `current` from `series` and from
// their families.
template <typename Map, typename RemoveGauges>
void Sweep(Map& series, uint64_t current, RemoveGauges remove) {
  for (auto it = series.begin(); it != series.end();) {
    if (it->second.generation == current) {
      ++it;
      continue;
    }
    remove(it->second);
    series.erase(it++);
  }
}

}  // namespace

std::string PriorityLabel(v1::PriorityClass priority) {
  absl::string_view name = v1::PriorityClass_Name(priority);
  if (name.empty()) return absl::StrCat(static_cast<int>(priority));
  absl::ConsumePrefix(&name, "PRIORITY_CLASS_");
  return absl::AsciiStrToLower(name);
}

class BrokerMetrics::ScrapeTarget final : public prometheus::Collectable {
 public:
  explicit ScrapeTarget(BrokerMetrics* metrics) : metrics_(metrics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_->Refresh();
    return metrics_->registry_->Collect();
  }

 private:
  BrokerMetrics* const metrics_;
};

BrokerMetrics::BrokerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      scrape_target_(std::make_shared<ScrapeTarget>(this)),
      link_capacity_(GaugeFamily(*registry_, "ferry_bwbroker_link_capacity_bytes_per_second",
                                 "Capacity of a link (+Inf: unconfigured and unconstrained).")),
      link_demand_(GaugeFamily(*registry_, "ferry_bwbroker_link_demand_bytes_per_second",
                               "Demand of all flow groups on a link.")),
      link_allocated_(GaugeFamily(*registry_, "ferry_bwbroker_link_allocated_bytes_per_second",
                                  "Bandwidth granted on a link.")),
      group_demand_(GaugeFamily(*registry_, "ferry_bwbroker_flow_group_demand_bytes_per_second",
                                "Demand of a flow group, summed over its clients.")),
      group_allocated_(GaugeFamily(*registry_,
                                   "ferry_bwbroker_flow_group_allocated_bytes_per_second",
                                   "Bandwidth granted to a flow group.")),
      flow_groups_(GaugeFamily(*registry_, "ferry_bwbroker_flow_groups",
                               "Flow groups with a demand in the last recompute.")
                       .Add({})),
      recompute_duration_(BuildHistogram()
                              .Name("ferry_bwbroker_recompute_duration_seconds")
                              .Help("Time to aggregate the demands and allocate all links.")
                              .Register(*registry_)
                              .Add({}, RecomputeBuckets())) {}

BrokerMetrics::LinkGauges& BrokerMetrics::LinkSeries(const LinkUsage& link) {
  auto [it, inserted] =
      links_.try_emplace(std::make_pair(link.source_cluster, link.destination_cluster));
  if (inserted) {
    const prometheus::Labels labels = LinkLabels(link.source_cluster, link.destination_cluster);
    it->second = {&link_capacity_.Add(labels), &link_demand_.Add(labels),
                  &link_allocated_.Add(labels), 0};
  }
  return it->second;
}

BrokerMetrics::GroupGauges& BrokerMetrics::GroupSeries(const FlowGroupKey& group) {
  auto [it, inserted] = groups_.try_emplace(group);
  if (inserted) {
    const prometheus::Labels labels = GroupLabels(group);
    it->second = {&group_demand_.Add(labels), &group_allocated_.Add(labels), 0};
  }
  return it->second;
}

void BrokerMetrics::Recomputed(std::shared_ptr<const AllocationSnapshot> snapshot,
                               absl::Duration elapsed) {
  recompute_duration_.Observe(absl::ToDoubleSeconds(elapsed));
  absl::MutexLock lock(&mu_);
  latest_ = std::move(snapshot);
}

void BrokerMetrics::Refresh() {
  absl::MutexLock lock(&mu_);
  if (latest_ == nullptr || latest_ == exported_) return;
  const AllocationSnapshot& snapshot = *latest_;
  ++generation_;
  for (const LinkUsage& link : snapshot.allocation.links) {
    LinkGauges& gauges = LinkSeries(link);
    gauges.capacity->Set(link.capacity_bytes_per_second);
    gauges.demand->Set(link.demand_bytes_per_second);
    gauges.allocated->Set(link.allocated_bytes_per_second);
    gauges.generation = generation_;
  }
  const size_t groups = std::min(snapshot.groups.size(), snapshot.allocation.grants.size());
  for (size_t i = 0; i < groups; ++i) {
    GroupGauges& gauges = GroupSeries(snapshot.groups[i].group);
    gauges.demand->Set(snapshot.groups[i].bytes_per_second);
    gauges.allocated->Set(snapshot.allocation.grants[i]);
    gauges.generation = generation_;
  }
  flow_groups_.Set(static_cast<double>(groups));
  RemoveStale();
  exported_ = latest_;
}

void BrokerMetrics::RemoveStale() {
  Sweep(links_, generation_, [this](const LinkGauges& gauges) {
    link_capacity_.Remove(gauges.capacity);
    link_demand_.Remove(gauges.demand);
    link_allocated_.Remove(gauges.allocated);
  });
  Sweep(groups_, generation_, [this](const GroupGauges& gauges) {
    group_demand_.Remove(gauges.demand);
    group_allocated_.Remove(gauges.allocated);
  });
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address, const BrokerMetrics& metrics, int* port) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {  // prometheus-cpp reports a failed bind only by throwing.
    exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on '", address, "': ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics: no port bound for '", address, "'"));
  }
  exposer->RegisterCollectable(metrics.scrape_target());
  if (port != nullptr) *port = ports[0];
  return exposer;
}

}  // namespace ferry::bwbroker
