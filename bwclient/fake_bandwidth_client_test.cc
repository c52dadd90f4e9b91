#include "bwclient/fake_bandwidth_client.h"

#include <vector>

#include "bwclient/test_groups.h"
#include "gtest/gtest.h"

namespace ferry::bwclient {
namespace {

TEST(FakeBandwidthClientTest, RatesAreWhatTheTestSets) {
  FakeBandwidthClient client(1000);
  EXPECT_EQ(client.RateFor(TestGroup("alice")), 1000);
  client.SetRate(TestGroup("alice"), 5);
  client.SetDefaultRate(7);
  EXPECT_EQ(client.RateFor(TestGroup("alice")), 5);
  EXPECT_EQ(client.RateFor(TestGroup("bob")), 7);
}

TEST(FakeBandwidthClientTest, RecordsValidDemandsAndRejectsInvalidOnes) {
  FakeBandwidthClient client;
  ASSERT_TRUE(client.ReplaceDemands({TestDemand("alice", 10), TestDemand("bob", 20)}).ok());
  EXPECT_EQ(client.ReplaceDemands({TestDemand("carol", -1)}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(client.demands().size(), 2u);
  EXPECT_EQ(client.demands()[1].group().user(), "bob");
  EXPECT_EQ(client.replace_calls(), 1);
}

TEST(FakeBandwidthClientTest, SnapshotListsDemandedAndRatedGroups) {
  FakeBandwidthClient client(1000);
  client.SetRate(TestGroup("alice"), 5);
  client.SetBrokerReachable(false);
  ASSERT_TRUE(client.ReplaceDemands({TestDemand("alice", 10), TestDemand("bob", 20)}).ok());
  const BandwidthSnapshot snapshot = client.Snapshot();
  EXPECT_FALSE(snapshot.broker_reachable);
  EXPECT_FALSE(snapshot.last_error.ok());
  ASSERT_EQ(snapshot.groups.size(), 2u);
  EXPECT_EQ(snapshot.groups[0].group.user(), "alice");
  EXPECT_EQ(snapshot.groups[0].rate_bytes_per_second, 5);
  EXPECT_EQ(snapshot.groups[0].demand_bytes_per_second, 10);
  EXPECT_EQ(snapshot.groups[0].basis, RateBasis::kGrant);
  EXPECT_EQ(snapshot.groups[1].rate_bytes_per_second, 1000);
  EXPECT_EQ(snapshot.groups[1].basis, RateBasis::kFloor);
}

}  // namespace
}  // namespace ferry::bwclient
