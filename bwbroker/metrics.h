// BrokerMetrics: the broker's Prometheus metrics, fed by Broker after every recompute
// (RecomputeObserver) and served by StartMetricsExposer on --metrics_listen.
//
// A recompute only records its duration and keeps the snapshot (a shared pointer);
// the gauges are brought up to date from the latest snapshot when Prometheus scrapes
// (scrape_target) or Refresh is called. The broker recomputes on every changed report,
// far more often than anyone scrapes, so it never pays for gauges nobody reads.
//
//   ferry_bwbroker_link_capacity_bytes_per_second{source,destination}   +Inf: unconstrained
//   ferry_bwbroker_link_demand_bytes_per_second{source,destination}
//   ferry_bwbroker_link_allocated_bytes_per_second{source,destination}
//   ferry_bwbroker_flow_group_demand_bytes_per_second{source,destination,user,priority}
//   ferry_bwbroker_flow_group_allocated_bytes_per_second{...same labels}
//   ferry_bwbroker_flow_groups                      groups with a demand now
//   ferry_bwbroker_recompute_duration_seconds       histogram
// Label cardinality stays bounded by what exists now: the series of a flow group (or of
// an unconfigured link) that no longer appears in a recompute are removed.
// The gauges of a series are found through a hash map, not Prometheus' label lookup,
// so a refresh of 10,000 groups takes 1-3 ms (tools/bench/broker_bench).
//
// Thread safety: all methods may be called concurrently; one mutex of its own, never
// held while calling the broker.
#ifndef FERRY_BWBROKER_METRICS_H_
#define FERRY_BWBROKER_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bwbroker/allocator.h"
#include "bwbroker/observer.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ferry::bwbroker {

class BrokerMetrics final : public RecomputeObserver {
 public:
  BrokerMetrics();

  BrokerMetrics(const BrokerMetrics&) = delete;
  BrokerMetrics& operator=(const BrokerMetrics&) = delete;

  void Recomputed(std::shared_ptr<const AllocationSnapshot> snapshot,
                  absl::Duration elapsed) override;

  // Brings the gauges up to date with the latest snapshot (no-op if they are).
  void Refresh();

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // What an Exposer serves: Refresh(), then everything in registry().
  std::weak_ptr<prometheus::Collectable> scrape_target() const { return scrape_target_; }

 private:
  struct LinkGauges {
    prometheus::Gauge* capacity;
    prometheus::Gauge* demand;
    prometheus::Gauge* allocated;
    uint64_t generation;  // Of the last recompute that had this link.
  };
  struct GroupGauges {
    prometheus::Gauge* demand;
    prometheus::Gauge* allocated;
    uint64_t generation;
  };

  LinkGauges& LinkSeries(const LinkUsage& link) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  GroupGauges& GroupSeries(const FlowGroupKey& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveStale() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  class ScrapeTarget;

  const std::shared_ptr<prometheus::Registry> registry_;
  const std::shared_ptr<prometheus::Collectable> scrape_target_;
  prometheus::Family<prometheus::Gauge>& link_capacity_;
  prometheus::Family<prometheus::Gauge>& link_demand_;
  prometheus::Family<prometheus::Gauge>& link_allocated_;
  prometheus::Family<prometheus::Gauge>& group_demand_;
  prometheus::Family<prometheus::Gauge>& group_allocated_;
  prometheus::Gauge& flow_groups_;
  prometheus::Histogram& recompute_duration_;

  absl::Mutex mu_;
  std::shared_ptr<const AllocationSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const AllocationSnapshot> exported_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::pair<std::string, std::string>, LinkGauges> links_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<FlowGroupKey, GroupGauges> groups_ ABSL_GUARDED_BY(mu_);
};

// The label value of a class: "guaranteed", "batch", "best_effort" ("unspecified").
std::string PriorityLabel(v1::PriorityClass priority);

// Serves `metrics` (its scrape_target) at http://<address>/metrics. `address` is
// host:port (port 0 picks one, written to `*port`). UNAVAILABLE if it cannot listen.
// `metrics` must outlive the exposer.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address, const BrokerMetrics& metrics, int* port);

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_METRICS_H_
