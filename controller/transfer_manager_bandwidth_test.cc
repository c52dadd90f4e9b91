// TransferManager with a BandwidthManager over the fake client: flow groups on leased
// tasks, rate limits in heartbeats, "no bandwidth" as the stalled reason.
#include <string>
#include <vector>

#include "bwclient/fake_bandwidth_client.h"
#include "controller/bandwidth_manager.h"
#include "controller/test_util.h"
#include "controller/transfer_manager.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::HeartbeatOf;
using testing::RegularFile;

constexpr double kCeiling = 100e6;
constexpr double kDefaultRate = 5e6;

class TransferManagerBandwidthTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.bandwidth = &bandwidth_;
    options_.stall_after = absl::Seconds(60);
    Restart();
  }

  // Creates and plans a one-file transfer; its id.
  std::string OneFileTransfer(const std::string& request_id) {
    const std::string id = CreateTransfer(request_id);
    Plan(id, {RegularFile("", 10)});
    return id;
  }

  v1::FlowGroup GroupOf(const std::string& transfer_id) {
    return FlowGroupOf(Get(transfer_id), testing::kCluster);
  }

  v1::HeartbeatResponse Beat(const std::string& worker, const std::vector<v1::Task>& running) {
    absl::StatusOr<v1::HeartbeatResponse> response =
        manager_->Heartbeat(HeartbeatOf(worker, running));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : v1::HeartbeatResponse();
  }

  bwclient::FakeBandwidthClient client_{kDefaultRate};
  BandwidthManager bandwidth_{&client_, BandwidthOptions{kCeiling}};
};

TEST_F(TransferManagerBandwidthTest, LeasedTaskCarriesItsFlowGroupAndItsWorkerGetsTheRate) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  const v1::FlowGroup group = GroupOf(id);
  EXPECT_EQ(group.destination_cluster(), testing::kCluster);
  EXPECT_EQ(task.flow_group(), FlowGroupKeyString(group));

  const v1::HeartbeatResponse response = Beat(worker, {task});
  ASSERT_EQ(response.rate_limits_size(), 1);
  EXPECT_EQ(response.rate_limits(0).flow_group(), task.flow_group());
  EXPECT_DOUBLE_EQ(response.rate_limits(0).bytes_per_second(), kDefaultRate);
  ASSERT_EQ(client_.demands().size(), 1u);
  EXPECT_DOUBLE_EQ(client_.demands()[0].demand_bytes_per_second(), kCeiling);
}

TEST_F(TransferManagerBandwidthTest, GrantIsSplitBetweenWorkersByTheirLeasedTasks) {
  const std::string first = RegisterWorker("copyd-1");
  const std::string second = RegisterWorker("copyd-2");
  const std::string id = OneFileTransfer("r1");
  OneFileTransfer("r2");
  OneFileTransfer("r3");
  client_.SetRate(GroupOf(id), 30e6);  // One user: every transfer is in one group.
  const std::vector<v1::Task> of_first = Lease(first, 2);
  const std::vector<v1::Task> of_second = Lease(second, 1);
  ASSERT_EQ(of_first.size(), 2u);
  ASSERT_EQ(of_second.size(), 1u);

  const v1::HeartbeatResponse to_first = Beat(first, of_first);
  const v1::HeartbeatResponse to_second = Beat(second, of_second);
  ASSERT_EQ(to_first.rate_limits_size(), 1);
  ASSERT_EQ(to_second.rate_limits_size(), 1);
  EXPECT_DOUBLE_EQ(to_first.rate_limits(0).bytes_per_second(), 20e6);
  EXPECT_DOUBLE_EQ(to_second.rate_limits(0).bytes_per_second(), 10e6);
  ASSERT_EQ(client_.demands().size(), 1u);
  EXPECT_DOUBLE_EQ(client_.demands()[0].demand_bytes_per_second(), 3 * kCeiling);

  // A finished task no longer counts.
  EXPECT_EQ(ReportSuccess(second, of_second[0]).code(), 0);
  EXPECT_EQ(Beat(second, {}).rate_limits_size(), 0);
  EXPECT_DOUBLE_EQ(Beat(first, of_first).rate_limits(0).bytes_per_second(), 30e6);
}

TEST_F(TransferManagerBandwidthTest, ZeroGrantIsATinyRateAndStallsWithNoBandwidth) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  client_.SetRate(GroupOf(id), 0);
  const v1::HeartbeatResponse response = Beat(worker, {task});
  ASSERT_EQ(response.rate_limits_size(), 1);
  EXPECT_DOUBLE_EQ(response.rate_limits(0).bytes_per_second(), kNoBandwidthRate);

  clock_.Advance(absl::Seconds(61));
  Beat(worker, {task});
  manager_->ExpireWorkersAndLeases();
  const std::string reason = Get(id).stalled_reason();
  EXPECT_NE(reason.find("no bandwidth"), std::string::npos) << reason;
}

TEST_F(TransferManagerBandwidthTest, WithoutABrokerNoLimitsAreSent) {
  options_.bandwidth = nullptr;
  Restart();
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  EXPECT_FALSE(task.flow_group().empty());
  EXPECT_EQ(Beat(worker, {task}).rate_limits_size(), 0);
  EXPECT_EQ(client_.replace_calls(), 0);
}

TEST_F(TransferManagerBandwidthTest, RecoveredLeasesKeepTheirFlowGroup) {
  const auto [worker, id, task] = StartOneTask({RegularFile("", 10)});
  ASSERT_FALSE(HasFailure());
  Restart();
  const std::string again = RegisterWorker("copyd-1");
  Beat(again, {task});
  ASSERT_EQ(client_.demands().size(), 1u);
  EXPECT_EQ(FlowGroupKeyString(client_.demands()[0].group()), task.flow_group());
}

}  // namespace
}  // namespace ferry::controller
