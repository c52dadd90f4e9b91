#include "controller/bandwidth_manager.h"

#include <vector>

#include "bwclient/fake_bandwidth_client.h"
#include "bwclient/test_groups.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using bwclient::FakeBandwidthClient;
using bwclient::TestGroup;
using Active = BandwidthManager::ActiveTask;

constexpr double kCeiling = 100e6;

class BandwidthManagerTest : public ::testing::Test {
 protected:
  FakeBandwidthClient client_{/*default_rate_bytes_per_second=*/5e6};
  BandwidthManager manager_{&client_, BandwidthOptions{kCeiling}};
};

TEST_F(BandwidthManagerTest, DemandIsLeasedTasksTimesTheCeilingPerGroup) {
  const std::vector<Active> active = {{"w1", TestGroup("alice")},
                                      {"w2", TestGroup("alice")},
                                      {"w1", TestGroup("bob")}};
  manager_.Update(active, "w1");
  const std::vector<v1::FlowDemand> demands = client_.demands();
  ASSERT_EQ(demands.size(), 2u);
  EXPECT_EQ(demands[0].group().user(), "alice");
  EXPECT_DOUBLE_EQ(demands[0].demand_bytes_per_second(), 2 * kCeiling);
  EXPECT_EQ(demands[1].group().user(), "bob");
  EXPECT_DOUBLE_EQ(demands[1].demand_bytes_per_second(), kCeiling);
}

TEST_F(BandwidthManagerTest, GrantIsDividedAmongWorkersByTheirActiveTasks) {
  client_.SetRate(TestGroup("alice"), 30e6);
  const std::vector<Active> active = {{"w1", TestGroup("alice")},
                                      {"w1", TestGroup("alice")},
                                      {"w2", TestGroup("alice")}};
  const std::vector<v1::RateLimit> w1 = manager_.Update(active, "w1");
  const std::vector<v1::RateLimit> w2 = manager_.Update(active, "w2");
  ASSERT_EQ(w1.size(), 1u);
  ASSERT_EQ(w2.size(), 1u);
  EXPECT_EQ(w1[0].flow_group(), FlowGroupKeyString(TestGroup("alice")));
  EXPECT_DOUBLE_EQ(w1[0].bytes_per_second(), 20e6);
  EXPECT_DOUBLE_EQ(w2[0].bytes_per_second(), 10e6);
}

TEST_F(BandwidthManagerTest, WorkerGetsLimitsOnlyForItsGroups) {
  const std::vector<Active> active = {{"w1", TestGroup("alice")}, {"w2", TestGroup("bob")}};
  const std::vector<v1::RateLimit> limits = manager_.Update(active, "w1");
  ASSERT_EQ(limits.size(), 1u);
  EXPECT_EQ(limits[0].flow_group(), FlowGroupKeyString(TestGroup("alice")));
  EXPECT_DOUBLE_EQ(limits[0].bytes_per_second(), 5e6);  // The fake's default.
  EXPECT_TRUE(manager_.Update({}, "w3").empty());
}

TEST_F(BandwidthManagerTest, ZeroGrantIsNeverSentAsZeroAndMarksTheGroupStarved) {
  client_.SetRate(TestGroup("alice"), 0);
  const std::vector<Active> active = {{"w1", TestGroup("alice")}, {"w1", TestGroup("bob")}};
  const std::vector<v1::RateLimit> limits = manager_.Update(active, "w1");
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_DOUBLE_EQ(limits[0].bytes_per_second(), kNoBandwidthRate);
  EXPECT_GT(limits[0].bytes_per_second(), 0);
  EXPECT_TRUE(manager_.Starved(TestGroup("alice")));
  EXPECT_FALSE(manager_.Starved(TestGroup("bob")));

  client_.SetRate(TestGroup("alice"), 1e6);
  manager_.Update(active, "w1");
  EXPECT_FALSE(manager_.Starved(TestGroup("alice")));
}

TEST_F(BandwidthManagerTest, GroupsWithoutTasksAreNoLongerDemanded) {
  manager_.Update({{"w1", TestGroup("alice")}}, "w1");
  ASSERT_EQ(client_.demands().size(), 1u);
  manager_.Update({}, "w1");
  EXPECT_TRUE(client_.demands().empty());
  EXPECT_EQ(client_.replace_calls(), 2);
}

TEST_F(BandwidthManagerTest, TasksWithoutAGroupAreLeftOut) {
  EXPECT_TRUE(manager_.Update({{"w1", v1::FlowGroup()}}, "w1").empty());
  EXPECT_TRUE(client_.demands().empty());
}

TEST(FlowGroupOfTest, TransferAndDestinationMakeTheGroup) {
  v1::Transfer transfer;
  transfer.mutable_source()->set_cluster("a");
  transfer.set_user("ferry://user/alice");
  const v1::FlowGroup group = FlowGroupOf(transfer, "b");
  EXPECT_EQ(group.source_cluster(), "a");
  EXPECT_EQ(group.destination_cluster(), "b");
  EXPECT_EQ(group.user(), "ferry://user/alice");
  EXPECT_EQ(group.priority(), v1::PRIORITY_CLASS_BATCH);
  transfer.set_priority(v1::PRIORITY_CLASS_GUARANTEED);
  EXPECT_EQ(FlowGroupOf(transfer, "b").priority(), v1::PRIORITY_CLASS_GUARANTEED);
}

TEST(FlowGroupKeyStringTest, DistinguishesEveryField) {
  v1::FlowGroup group = TestGroup("alice");
  const std::string key = FlowGroupKeyString(group);
  EXPECT_EQ(key, "a->b/" + std::to_string(static_cast<int>(v1::PRIORITY_CLASS_BATCH)) + "/alice");
  group.set_user("a/b");
  EXPECT_NE(FlowGroupKeyString(group), key);
  group = TestGroup("alice");
  group.set_priority(v1::PRIORITY_CLASS_UNSPECIFIED);
  EXPECT_NE(FlowGroupKeyString(group), key);
}

TEST(BandwidthOptionsTest, CeilingMustBePositive) {
  EXPECT_TRUE(BandwidthManager::Validate(BandwidthOptions{1}).ok());
  const absl::Status zero = BandwidthManager::Validate(BandwidthOptions{0});
  EXPECT_TRUE(absl::IsInvalidArgument(zero));
  EXPECT_NE(zero.message().find("per_task_ceiling"), std::string::npos);
}

}  // namespace
}  // namespace ferry::controller
