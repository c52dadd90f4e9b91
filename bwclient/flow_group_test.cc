#include "bwclient/flow_group.h"

#include <cmath>
#include <vector>

#include "bwclient/test_groups.h"
#include "gtest/gtest.h"

namespace ferry::bwclient {
namespace {

v1::FlowDemand Demand(const std::string& source, const std::string& user, double rate,
                      v1::PriorityClass priority = v1::PRIORITY_CLASS_BATCH) {
  v1::FlowDemand demand = TestDemand(user, rate);
  demand.mutable_group()->set_source_cluster(source);
  demand.mutable_group()->set_priority(priority);
  return demand;
}

void ExpectInvalid(const std::vector<v1::FlowDemand>& demands, const std::string& field) {
  const absl::Status status = ValidateDemands(demands);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_NE(status.message().find(field), absl::string_view::npos) << status;
}

TEST(FlowGroupTest, AcceptsAValidListIncludingZeroDemand) {
  EXPECT_TRUE(ValidateDemands({}).ok());
  EXPECT_TRUE(ValidateDemands({Demand("a", "alice", 100), Demand("a", "bob", 0),
                               Demand("c", "alice", 5, v1::PRIORITY_CLASS_GUARANTEED)})
                  .ok());
}

TEST(FlowGroupTest, RejectsBadEntriesNamingTheField) {
  ExpectInvalid({Demand("a", "x", 1), Demand("Bad_Cluster", "x", 1)},
                "demands[1].group.source_cluster");
  v1::FlowDemand no_destination = Demand("a", "x", 1);
  no_destination.mutable_group()->clear_destination_cluster();
  ExpectInvalid({no_destination}, "demands[0].group.destination_cluster");
  ExpectInvalid({Demand("a", "x", 1, v1::PRIORITY_CLASS_UNSPECIFIED)}, "demands[0].group.priority");
  ExpectInvalid({Demand("a", "x", 1, static_cast<v1::PriorityClass>(42))},
                "demands[0].group.priority");
  ExpectInvalid({Demand("a", "x", -1)}, "demands[0].demand_bytes_per_second");
  ExpectInvalid({Demand("a", "x", std::nan(""))}, "demands[0].demand_bytes_per_second");
  ExpectInvalid({Demand("a", "x", HUGE_VAL)}, "demands[0].demand_bytes_per_second");
  ExpectInvalid({Demand("a", "x", 1), Demand("a", "y", 1), Demand("a", "x", 2)},
                "demands[2].group repeats demands[0].group");
}

TEST(FlowGroupTest, KeyRoundTripsAndNameIsReadable) {
  const v1::FlowGroup group = Demand("a", "alice", 1).group();
  EXPECT_EQ(GroupOf(KeyOf(group)).SerializeAsString(), group.SerializeAsString());
  EXPECT_NE(KeyOf(group), KeyOf(Demand("a", "bob", 1).group()));
  EXPECT_EQ(FlowGroupName(group), "a->b user=alice PRIORITY_CLASS_BATCH");
}

}  // namespace
}  // namespace ferry::bwclient
