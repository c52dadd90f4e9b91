#include "bwbroker/metrics.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/metric_family.h"

namespace ferry::bwbroker {
namespace {

using LabelMap = std::map<std::string, std::string>;

// The value of `name`{labels} as a scrape sees it (histograms: the sample count);
// nullopt if there is no such series.
std::optional<double> Value(const BrokerMetrics& metrics, const std::string& name,
                            const LabelMap& labels = {}) {
  for (const prometheus::MetricFamily& family : metrics.scrape_target().lock()->Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      LabelMap found;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        found[label.name] = label.value;
      }
      if (found != labels) continue;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(metric.histogram.sample_count);
      }
      return metric.gauge.value;
    }
  }
  return std::nullopt;
}

const LabelMap kAb = {{"source", "a"}, {"destination", "b"}};
const LabelMap kXy = {{"source", "x"}, {"destination", "y"}};
const LabelMap kAliceBatch = {
    {"source", "a"}, {"destination", "b"}, {"user", "alice"}, {"priority", "batch"}};
const LabelMap kBobBestEffort = {
    {"source", "a"}, {"destination", "b"}, {"user", "bob"}, {"priority", "best_effort"}};

LinkUsage Link(const std::string& source, const std::string& destination, double capacity,
               double demand, double allocated) {
  LinkUsage link;
  link.source_cluster = source;
  link.destination_cluster = destination;
  link.capacity_bytes_per_second = capacity;
  link.demand_bytes_per_second = demand;
  link.allocated_bytes_per_second = allocated;
  return link;
}

std::shared_ptr<const AllocationSnapshot> Snapshot(std::vector<GroupDemand> groups,
                                                   std::vector<double> grants,
                                                   std::vector<LinkUsage> links) {
  auto snapshot = std::make_shared<AllocationSnapshot>();
  snapshot->groups = std::move(groups);
  snapshot->allocation.grants = std::move(grants);
  snapshot->allocation.links = std::move(links);
  return snapshot;
}

TEST(BrokerMetricsTest, ExportsLinksGroupsAndRecomputeTime) {
  BrokerMetrics metrics;
  metrics.Recomputed(
      Snapshot({{{"a", "b", "alice", v1::PRIORITY_CLASS_BATCH}, 700},
                {{"a", "b", "bob", v1::PRIORITY_CLASS_BEST_EFFORT}, 900},
                {{"x", "y", "alice", v1::PRIORITY_CLASS_BATCH}, 5}},
               {700, 300, 5}, {Link("a", "b", 1000, 1600, 1000), Link("x", "y", HUGE_VAL, 5, 5)}),
      absl::Milliseconds(3));

  EXPECT_EQ(Value(metrics, "ferry_bwbroker_link_capacity_bytes_per_second", kAb), 1000);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_link_demand_bytes_per_second", kAb), 1600);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_link_allocated_bytes_per_second", kAb), 1000);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_link_capacity_bytes_per_second", kXy), HUGE_VAL);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_group_demand_bytes_per_second", kAliceBatch), 700);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_group_allocated_bytes_per_second", kBobBestEffort),
            300);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_groups"), 3);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_recompute_duration_seconds"), 1);
}

TEST(BrokerMetricsTest, SeriesOfVanishedGroupsAndLinksAreRemoved) {
  BrokerMetrics metrics;
  metrics.Recomputed(
      Snapshot({{{"a", "b", "alice", v1::PRIORITY_CLASS_BATCH}, 700},
                {{"x", "y", "alice", v1::PRIORITY_CLASS_BATCH}, 5}},
               {700, 5}, {Link("a", "b", 1000, 700, 700), Link("x", "y", HUGE_VAL, 5, 5)}),
      absl::Milliseconds(1));
  ASSERT_TRUE(Value(metrics, "ferry_bwbroker_link_capacity_bytes_per_second", kXy).has_value());

  metrics.Recomputed(Snapshot({{{"a", "b", "bob", v1::PRIORITY_CLASS_BEST_EFFORT}, 900}}, {900},
                              {Link("a", "b", 1000, 900, 900)}),
                     absl::Milliseconds(1));
  EXPECT_FALSE(
      Value(metrics, "ferry_bwbroker_flow_group_demand_bytes_per_second", kAliceBatch).has_value());
  EXPECT_FALSE(Value(metrics, "ferry_bwbroker_flow_group_allocated_bytes_per_second", kAliceBatch)
                   .has_value());
  EXPECT_FALSE(Value(metrics, "ferry_bwbroker_link_capacity_bytes_per_second", kXy).has_value());
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_group_allocated_bytes_per_second", kBobBestEffort),
            900);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_link_demand_bytes_per_second", kAb), 900);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_recompute_duration_seconds"), 2);
}

TEST(BrokerMetricsTest, GaugesFollowTheLatestSnapshotAtScrapeTime) {
  BrokerMetrics metrics;
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_groups"), 0) << "nothing recomputed yet";
  for (double grant : {100.0, 200.0, 300.0}) {
    metrics.Recomputed(Snapshot({{{"a", "b", "alice", v1::PRIORITY_CLASS_BATCH}, 700}}, {grant},
                                {Link("a", "b", 1000, 700, grant)}),
                       absl::Milliseconds(1));
  }
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_flow_group_allocated_bytes_per_second", kAliceBatch),
            300);
  EXPECT_EQ(Value(metrics, "ferry_bwbroker_recompute_duration_seconds"), 3)
      << "every recompute is timed, even those no scrape saw";
}

TEST(BrokerMetricsTest, PriorityLabels) {
  EXPECT_EQ(PriorityLabel(v1::PRIORITY_CLASS_GUARANTEED), "guaranteed");
  EXPECT_EQ(PriorityLabel(v1::PRIORITY_CLASS_BEST_EFFORT), "best_effort");
  EXPECT_EQ(PriorityLabel(static_cast<v1::PriorityClass>(42)), "42");
}

TEST(BrokerMetricsTest, ExposerServesOnPortZero) {
  BrokerMetrics metrics;
  int port = 0;
  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      StartMetricsExposer("127.0.0.1:0", metrics, &port);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  EXPECT_GT(port, 0);
  EXPECT_EQ(StartMetricsExposer("not an address", metrics, &port).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ferry::bwbroker
