#include "bwbroker/broker.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bwbroker/config.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace ferry::bwbroker {
namespace {

// a -> b: 1000 bytes/s; b -> a: 400. Defaults: report every 1 s, lease 5 s, clients
// forgotten after 5 s of silence, recompute every 1 s.
constexpr char kConfig[] = R"pb(
  links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 1000 }
  links { source_cluster: "b" destination_cluster: "a" capacity_bytes_per_second: 400 }
)pb";

v1::FlowDemand Demand(const std::string& user, double rate,
                      v1::PriorityClass priority = v1::PRIORITY_CLASS_BATCH,
                      const std::string& source = "a", const std::string& destination = "b") {
  v1::FlowDemand demand;
  demand.mutable_group()->set_source_cluster(source);
  demand.mutable_group()->set_destination_cluster(destination);
  demand.mutable_group()->set_user(user);
  demand.mutable_group()->set_priority(priority);
  demand.set_demand_bytes_per_second(rate);
  return demand;
}

v1::ReportDemandsRequest Report(const std::string& client, std::vector<v1::FlowDemand> demands) {
  v1::ReportDemandsRequest request;
  request.set_client_id(client);
  for (v1::FlowDemand& demand : demands) *request.add_demands() = std::move(demand);
  return request;
}

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

class BrokerTest : public ::testing::Test {
 protected:
  BrokerTest() : config_(*ParseConfig(kConfig)), broker_(config_, &clock_) {}

  // The rates granted to `client` for `demands`, in order; empty on error.
  std::vector<double> Rates(const std::string& client, std::vector<v1::FlowDemand> demands) {
    absl::StatusOr<v1::ReportDemandsResponse> response =
        broker_.ReportDemands(Report(client, std::move(demands)));
    EXPECT_TRUE(response.ok()) << response.status();
    std::vector<double> rates;
    if (response.ok()) {
      for (const v1::FlowGrant& grant : response->grants()) {
        rates.push_back(grant.rate_bytes_per_second());
      }
    }
    return rates;
  }

  SimulatedClock clock_;
  BrokerConfig config_;
  Broker broker_;
};

TEST_F(BrokerTest, GrantsFollowTheRequestOrderWithALease) {
  absl::StatusOr<v1::ReportDemandsResponse> response = broker_.ReportDemands(Report(
      "c1",
      {Demand("u", 300), Demand("w", 100, v1::PRIORITY_CLASS_BATCH, "b", "a"), Demand("v", 2000)}));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->grants_size(), 3);
  EXPECT_EQ(response->grants(0).group().user(), "u");
  EXPECT_EQ(response->grants(0).rate_bytes_per_second(), 300);
  EXPECT_EQ(response->grants(1).group().source_cluster(), "b");
  EXPECT_EQ(response->grants(1).rate_bytes_per_second(), 100);
  EXPECT_EQ(response->grants(2).rate_bytes_per_second(), 700);
  EXPECT_EQ(response->report_interval_ms(), 1000);
  for (const v1::FlowGrant& grant : response->grants()) {
    EXPECT_EQ(TimeOf(grant.lease_expiry()), clock_.Now() + absl::Seconds(5));
  }
}

TEST_F(BrokerTest, RenewingExtendsTheLease) {
  ASSERT_EQ(Rates("c1", {Demand("u", 300)}), std::vector<double>{300});
  clock_.Advance(absl::Milliseconds(1500));
  absl::StatusOr<v1::ReportDemandsResponse> renewed =
      broker_.ReportDemands(Report("c1", {Demand("u", 300)}));
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(TimeOf(renewed->grants(0).lease_expiry()), clock_.Now() + absl::Seconds(5));
}

TEST_F(BrokerTest, AGroupsGrantIsSplitBetweenItsClientsByDemand) {
  ASSERT_EQ(Rates("c1", {Demand("u", 600)}), std::vector<double>{600});
  EXPECT_EQ(Rates("c2", {Demand("u", 1800)}), std::vector<double>{750});
  EXPECT_EQ(Rates("c1", {Demand("u", 600)}), std::vector<double>{250});
}

TEST_F(BrokerTest, RecomputesWhenADemandChangesAndOnlyThen) {
  const int64_t initial = broker_.recompute_count();  // The constructor's.
  EXPECT_EQ(Rates("c1", {Demand("u", 2000)}), std::vector<double>{1000});
  EXPECT_EQ(broker_.recompute_count(), initial + 1);
  EXPECT_EQ(Rates("c1", {Demand("u", 2000)}), std::vector<double>{1000});
  EXPECT_EQ(broker_.recompute_count(), initial + 1) << "nothing changed";
  // Another user arrives: its reply already reflects the new split...
  EXPECT_EQ(Rates("c2", {Demand("v", 2000)}), std::vector<double>{500});
  EXPECT_EQ(broker_.recompute_count(), initial + 2);
  // ...and c1's next, unchanged report gets its new share without a recompute.
  EXPECT_EQ(Rates("c1", {Demand("u", 2000)}), std::vector<double>{500});
  EXPECT_EQ(broker_.recompute_count(), initial + 2);
  // A changed demand of c1 is answered from a fresh allocation.
  EXPECT_EQ(Rates("c1", {Demand("u", 100)}), std::vector<double>{100});
  EXPECT_EQ(broker_.recompute_count(), initial + 3);
}

TEST_F(BrokerTest, AReportReplacesTheClientsDemands) {
  ASSERT_EQ(Rates("c1", {Demand("u", 2000)}), std::vector<double>{1000});
  ASSERT_EQ(Rates("c1", {Demand("v", 2000)}), std::vector<double>{1000});
  const v1::ListAllocationsResponse list = broker_.ListAllocations();
  ASSERT_EQ(list.links(0).grants_size(), 1);
  EXPECT_EQ(list.links(0).grants(0).group().user(), "v");
}

TEST_F(BrokerTest, SilentClientsAreForgottenAfterTheirExpiry) {
  ASSERT_EQ(Rates("quiet", {Demand("u", 2000)}), std::vector<double>{1000});
  ASSERT_EQ(Rates("talker", {Demand("v", 2000)}), std::vector<double>{500});
  // Exactly at the expiry (5 intervals of 1 s) the quiet client still counts.
  clock_.Advance(absl::Seconds(5));
  ASSERT_EQ(Rates("talker", {Demand("v", 2000)}), std::vector<double>{500});
  broker_.Tick();
  EXPECT_EQ(broker_.client_count(), 2u);
  EXPECT_EQ(Rates("talker", {Demand("v", 2000)}), std::vector<double>{500});
  clock_.Advance(absl::Milliseconds(1));
  broker_.Tick();
  EXPECT_EQ(broker_.client_count(), 1u);
  EXPECT_EQ(Rates("talker", {Demand("v", 2000)}), std::vector<double>{1000});
  // A forgotten client that reports again is simply new.
  EXPECT_EQ(Rates("quiet", {Demand("u", 2000)}), std::vector<double>{500});
}

TEST_F(BrokerTest, TheLoopRecomputesEveryPeriodAndExpiresClients) {
  ASSERT_EQ(Rates("quiet", {Demand("u", 2000)}), std::vector<double>{1000});
  broker_.Start();
  const int64_t before = broker_.recompute_count();
  clock_.Advance(absl::Seconds(6));
  // The loop runs on its own thread: poll (real time) with a deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (broker_.client_count() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(broker_.client_count(), 0u);
  EXPECT_GT(broker_.recompute_count(), before);
  broker_.Stop();
  broker_.Stop();  // Idempotent.
  const int64_t stopped = broker_.recompute_count();
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(broker_.recompute_count(), stopped);
}

TEST_F(BrokerTest, ListAllocationsShowsLinksAndGroups) {
  v1::ListAllocationsResponse empty = broker_.ListAllocations();
  ASSERT_EQ(empty.links_size(), 2) << "configured links show before any report";
  EXPECT_EQ(empty.links(0).capacity_bytes_per_second(), 1000);
  EXPECT_EQ(empty.links(0).grants_size(), 0);

  ASSERT_EQ(Rates("c1", {Demand("u", 600), Demand("x", 50, v1::PRIORITY_CLASS_BATCH, "c", "d")}),
            (std::vector<double>{600, 50}));
  ASSERT_EQ(Rates("c2", {Demand("u", 1800, v1::PRIORITY_CLASS_UNSPECIFIED)}),
            std::vector<double>{750});
  const v1::ListAllocationsResponse list = broker_.ListAllocations();
  ASSERT_EQ(list.links_size(), 3);
  const v1::LinkAllocation& ab = list.links(0);
  EXPECT_EQ(ab.demand_bytes_per_second(), 2400);
  EXPECT_EQ(ab.allocated_bytes_per_second(), 1000);
  ASSERT_EQ(ab.grants_size(), 1) << "one group, summed over both clients";
  EXPECT_EQ(ab.grants(0).group().priority(), v1::PRIORITY_CLASS_BATCH);
  EXPECT_EQ(ab.grants(0).rate_bytes_per_second(), 1000);
  const v1::LinkAllocation& cd = list.links(2);
  EXPECT_EQ(cd.source_cluster(), "c");
  EXPECT_TRUE(std::isinf(cd.capacity_bytes_per_second())) << "unconfigured: unconstrained";
  EXPECT_EQ(cd.allocated_bytes_per_second(), 50);
  EXPECT_EQ(TimeOf(list.computed_time()), clock_.Now());
  EXPECT_EQ(TimeOf(ab.grants(0).lease_expiry()), clock_.Now() + absl::Seconds(5));
}

TEST_F(BrokerTest, ARestartedBrokerRebuildsFromTheNextReports) {
  ASSERT_EQ(Rates("c1", {Demand("u", 2000)}), std::vector<double>{1000});
  ASSERT_EQ(Rates("c2", {Demand("v", 2000), Demand("w", 300, v1::PRIORITY_CLASS_BATCH, "b", "a")}),
            (std::vector<double>{500, 300}));
  Broker restarted(config_, &clock_);
  EXPECT_EQ(restarted.client_count(), 0u);
  ASSERT_TRUE(restarted.ReportDemands(Report("c1", {Demand("u", 2000)})).ok());
  absl::StatusOr<v1::ReportDemandsResponse> again = restarted.ReportDemands(
      Report("c2", {Demand("v", 2000), Demand("w", 300, v1::PRIORITY_CLASS_BATCH, "b", "a")}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->grants(0).rate_bytes_per_second(), 500);
  EXPECT_EQ(again->grants(1).rate_bytes_per_second(), 300);
}

TEST_F(BrokerTest, BadRequestsNameTheField) {
  struct Case {
    v1::ReportDemandsRequest request;
    std::string message;
  };
  v1::FlowDemand no_group;
  no_group.set_demand_bytes_per_second(1);
  const std::vector<Case> cases = {
      {Report("", {Demand("u", 1)}), "client_id: required"},
      {Report(std::string(300, 'c'), {}), "client_id: longer than 256 bytes"},
      {Report("c", {Demand("u", 1), no_group}), "demands[1].group: required"},
      {Report("c", {Demand("u", 1, v1::PRIORITY_CLASS_BATCH, "", "b")}),
       "demands[0].group.source_cluster: missing cluster name"},
      {Report("c", {Demand("u", 1, v1::PRIORITY_CLASS_BATCH, "a", "B!")}),
       "demands[0].group.destination_cluster"},
      {Report("c", {Demand("", 1)}), "demands[0].group.user: required"},
      {Report("c", {Demand("u", 1, static_cast<v1::PriorityClass>(7))}),
       "demands[0].group.priority: unknown priority class 7"},
      {Report("c", {Demand("u", -1)}), "demands[0].demand_bytes_per_second: must be a finite"},
      {Report("c", {Demand("u", std::nan(""))}), "demands[0].demand_bytes_per_second"},
      {Report("c", {Demand("u", HUGE_VAL)}), "demands[0].demand_bytes_per_second"},
      {Report("c", {Demand("u", 1), Demand("v", 1), Demand("u", 2)}),
       "demands[2].group: repeats demands[0].group"},
      {Report("c", {Demand("u", 1, v1::PRIORITY_CLASS_UNSPECIFIED), Demand("u", 2)}),
       "demands[1].group: repeats demands[0].group"},
  };
  for (const Case& c : cases) {
    const absl::Status status = broker_.ReportDemands(c.request).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(std::string(status.message()).find(c.message), std::string::npos)
        << "'" << status.message() << "' lacks '" << c.message << "'";
  }
  EXPECT_EQ(broker_.client_count(), 0u) << "a rejected report leaves no state";
}

TEST_F(BrokerTest, UnspecifiedPriorityIsBatchButEchoedAsSent) {
  absl::StatusOr<v1::ReportDemandsResponse> response =
      broker_.ReportDemands(Report("c1", {Demand("u", 2000, v1::PRIORITY_CLASS_UNSPECIFIED),
                                          Demand("v", 2000, v1::PRIORITY_CLASS_BATCH)}));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->grants(0).group().priority(), v1::PRIORITY_CLASS_UNSPECIFIED);
  EXPECT_EQ(response->grants(0).rate_bytes_per_second(), 500);
  EXPECT_EQ(response->grants(1).rate_bytes_per_second(), 500);
}

}  // namespace
}  // namespace ferry::bwbroker
