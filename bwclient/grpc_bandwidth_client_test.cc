#include "bwclient/grpc_bandwidth_client.h"

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bwclient/test_groups.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "proto/bandwidth_broker_mock.grpc.pb.h"

namespace ferry::bwclient {
namespace {

using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;

constexpr double kFloor = 1000;
constexpr absl::Duration kRealTimeLimit = absl::Seconds(10);

std::vector<std::string> Users(const v1::ReportDemandsRequest& request) {
  std::vector<std::string> users;
  for (const v1::FlowDemand& demand : request.demands()) users.push_back(demand.group().user());
  return users;
}

GrpcBandwidthClientOptions TestOptions() {
  GrpcBandwidthClientOptions options;
  options.client_id = "controller/b";
  options.floor_bytes_per_second = kFloor;
  options.default_report_interval = absl::Seconds(5);
  options.initial_backoff = absl::Milliseconds(200);
  options.max_backoff = absl::Milliseconds(1600);
  return options;
}

// A scripted broker behind the gMock stub: grants each user's scripted rate (else the
// demand) with a lease of lease_ from the simulated now, or fails while down.
class GrpcBandwidthClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ON_CALL(stub_, ReportDemands(_, _, _))
        .WillByDefault(Invoke(this, &GrpcBandwidthClientTest::Answer));
  }

  grpc::Status Answer(grpc::ClientContext* context, const v1::ReportDemandsRequest& request,
                      v1::ReportDemandsResponse* response) {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    rpc_deadlines_.push_back(absl::FromChrono(context->deadline()) - absl::Now());
    if (!broker_up_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "broker down");
    for (const v1::FlowDemand& demand : request.demands()) {
      v1::FlowGrant* grant = response->add_grants();
      *grant->mutable_group() = demand.group();
      const auto it = rates_.find(demand.group().user());
      grant->set_rate_bytes_per_second(it != rates_.end() ? it->second
                                                          : demand.demand_bytes_per_second());
      const absl::Time expiry = clock_.Now() + lease_;
      grant->mutable_lease_expiry()->set_seconds(absl::ToUnixSeconds(expiry));
    }
    response->set_report_interval_ms(interval_ms_);
    if (corrupt_) corrupt_(*response);
    return grpc::Status::OK;
  }

  // Creates the client with `demands` and waits for its first report.
  void StartClient(const std::vector<v1::FlowDemand>& demands = {},
                   GrpcBandwidthClientOptions options = TestOptions()) {
    auto client = GrpcBandwidthClient::Create(&stub_, &clock_, std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    ASSERT_TRUE(client_->ReplaceDemands(demands).ok());
    client_->Start();
    WaitForAttempts(1);
  }

  // Waits (bounded, real time) until the client has finished `attempts` reports.
  BandwidthSnapshot WaitForAttempts(int64_t attempts) {
    const absl::Time give_up = absl::Now() + kRealTimeLimit;
    BandwidthSnapshot snapshot = client_->Snapshot();
    while (snapshot.reports_attempted < attempts && absl::Now() < give_up) {
      absl::SleepFor(absl::Microseconds(200));
      snapshot = client_->Snapshot();
    }
    EXPECT_EQ(snapshot.reports_attempted, attempts);
    return snapshot;
  }

  // Moves the clock to the next report and waits until it has been handled.
  BandwidthSnapshot RunNextReport() {
    const BandwidthSnapshot before = client_->Snapshot();
    clock_.Advance(before.next_report - clock_.Now());
    return WaitForAttempts(before.reports_attempted + 1);
  }

  void SetBrokerUp(bool up) {
    absl::MutexLock lock(&mu_);
    broker_up_ = up;
  }
  void SetRate(const std::string& user, double rate) {
    absl::MutexLock lock(&mu_);
    rates_[user] = rate;
  }
  void SetCorruption(std::function<void(v1::ReportDemandsResponse&)> corrupt) {
    absl::MutexLock lock(&mu_);
    corrupt_ = std::move(corrupt);
  }
  std::vector<v1::ReportDemandsRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  NiceMock<v1::MockBandwidthBrokerStub> stub_;
  SimulatedClock clock_;
  absl::Mutex mu_;
  bool broker_up_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::string, double> rates_ ABSL_GUARDED_BY(mu_);
  absl::Duration lease_ ABSL_GUARDED_BY(mu_) = absl::Seconds(30);
  int64_t interval_ms_ ABSL_GUARDED_BY(mu_) = 10'000;
  std::function<void(v1::ReportDemandsResponse&)> corrupt_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportDemandsRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> rpc_deadlines_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<GrpcBandwidthClient> client_;  // Last: stopped before the rest goes.
};

TEST_F(GrpcBandwidthClientTest, CreateRejectsBadOptionsNamingThem) {
  auto expect_invalid = [this](GrpcBandwidthClientOptions options, const std::string& field) {
    const auto client = GrpcBandwidthClient::Create(&stub_, &clock_, std::move(options));
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(client.status().message().find(field), absl::string_view::npos) << client.status();
  };
  GrpcBandwidthClientOptions options = TestOptions();
  options.client_id.clear();
  expect_invalid(options, "client_id");
  options = TestOptions();
  options.floor_bytes_per_second = 0;
  expect_invalid(options, "floor_bytes_per_second");
  options = TestOptions();
  options.default_report_interval = absl::Hours(2);
  expect_invalid(options, "default_report_interval");
  options = TestOptions();
  options.max_backoff = absl::Milliseconds(1);
  expect_invalid(options, "initial_backoff");
  EXPECT_FALSE(GrpcBandwidthClient::Create(nullptr, &clock_, TestOptions()).ok());
}

TEST_F(GrpcBandwidthClientTest, ReportsAtStartAndAppliesTheGrants) {
  SetRate("alice", 5000);
  SetRate("bob", 7000);
  auto client = GrpcBandwidthClient::Create(&stub_, &clock_, TestOptions());
  ASSERT_TRUE(client.ok()) << client.status();
  client_ = std::move(*client);
  ASSERT_TRUE(client_->ReplaceDemands({TestDemand("bob", 9000), TestDemand("alice", 8000)}).ok());
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), kFloor);  // Not granted yet.
  client_->Start();
  const BandwidthSnapshot snapshot = WaitForAttempts(1);

  const std::vector<v1::ReportDemandsRequest> sent = requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].client_id(), "controller/b");
  EXPECT_EQ(Users(sent[0]), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(sent[0].demands(0).demand_bytes_per_second(), 8000);
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), 5000);
  EXPECT_EQ(client_->RateFor(TestGroup("bob")), 7000);
  EXPECT_EQ(client_->RateFor(TestGroup("carol")), kFloor);  // Unknown group.
  EXPECT_TRUE(snapshot.broker_reachable);
  ASSERT_EQ(snapshot.groups.size(), 2u);
  EXPECT_EQ(snapshot.groups[0].basis, RateBasis::kGrant);
  EXPECT_EQ(snapshot.groups[0].demand_bytes_per_second, 8000);
  EXPECT_EQ(snapshot.groups[0].lease_expiry, clock_.Now() + absl::Seconds(30));
  // The broker asked for a report every 10 s; the leases (30 s) do not need sooner.
  EXPECT_EQ(snapshot.next_report, clock_.Now() + absl::Seconds(10));

  absl::MutexLock lock(&mu_);
  for (absl::Duration deadline : rpc_deadlines_) {
    EXPECT_GT(deadline, absl::Seconds(4));  // rpc_timeout is 5 s of wall-clock time.
    EXPECT_LE(deadline, absl::Seconds(5));
  }
}

TEST_F(GrpcBandwidthClientTest, RenewsLeasesBeforeTheyEnd) {
  {
    absl::MutexLock lock(&mu_);
    lease_ = absl::Seconds(4);  // Shorter than the 10 s report interval.
  }
  StartClient({TestDemand("alice", 8000)});
  ASSERT_EQ(client_->RateFor(TestGroup("alice")), 8000);
  const absl::Time granted = clock_.Now();
  EXPECT_EQ(client_->Snapshot().next_report, granted + absl::Seconds(2));
  for (int i = 0; i < 5; ++i) RunNextReport();
  EXPECT_EQ(clock_.Now(), granted + absl::Seconds(10));
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), 8000);
  EXPECT_EQ(client_->Snapshot().groups[0].basis, RateBasis::kGrant);
}

TEST_F(GrpcBandwidthClientTest, BrokerDownKeepsTheGrantUntilTheLeaseEndsThenTheFloor) {
  SetRate("fast", 5000);  // Above the floor: falls to the floor.
  SetRate("slow", 400);   // Below the floor: keeps its grant.
  SetRate("zero", 0);     // Nothing while the lease lasts, then the floor.
  StartClient({TestDemand("fast", 9000), TestDemand("slow", 9000), TestDemand("zero", 9000)});
  EXPECT_EQ(client_->RateFor(TestGroup("fast")), 5000);
  const absl::Time lease_end = clock_.Now() + absl::Seconds(30);
  EXPECT_EQ(client_->RateFor(TestGroup("zero")), 0);

  SetBrokerUp(false);
  BandwidthSnapshot snapshot = RunNextReport();
  EXPECT_FALSE(snapshot.broker_reachable);
  EXPECT_EQ(snapshot.last_error.code(), absl::StatusCode::kUnavailable);
  while (snapshot.next_report < lease_end) {
    EXPECT_EQ(client_->RateFor(TestGroup("fast")), 5000);
    EXPECT_EQ(client_->RateFor(TestGroup("slow")), 400);
    EXPECT_EQ(client_->RateFor(TestGroup("zero")), 0);
    snapshot = RunNextReport();
  }
  clock_.Advance(lease_end - clock_.Now());
  EXPECT_EQ(client_->RateFor(TestGroup("fast")), kFloor);
  EXPECT_EQ(client_->RateFor(TestGroup("slow")), 400);
  EXPECT_EQ(client_->RateFor(TestGroup("zero")), kFloor);
  EXPECT_EQ(client_->RateFor(TestGroup("never")), kFloor);
  snapshot = client_->Snapshot();
  ASSERT_EQ(snapshot.groups.size(), 3u);
  EXPECT_EQ(snapshot.groups[0].basis, RateBasis::kExpiredGrant);
  EXPECT_EQ(snapshot.groups[0].last_grant_bytes_per_second, 5000);
  EXPECT_EQ(snapshot.groups[1].basis, RateBasis::kExpiredGrant);
  EXPECT_EQ(snapshot.groups[2].basis, RateBasis::kFloor);
  EXPECT_GT(snapshot.consecutive_failures, 3);

  // Back: the next report restores the grants.
  SetBrokerUp(true);
  SetRate("fast", 6000);
  snapshot = RunNextReport();
  EXPECT_TRUE(snapshot.broker_reachable);
  EXPECT_EQ(snapshot.consecutive_failures, 0);
  EXPECT_TRUE(snapshot.last_error.ok());
  EXPECT_EQ(client_->RateFor(TestGroup("fast")), 6000);
  EXPECT_EQ(client_->RateFor(TestGroup("zero")), 0);
}

TEST_F(GrpcBandwidthClientTest, BackoffGrowsIsJitteredAndCapped) {
  SetBrokerUp(false);
  StartClient();
  std::set<double> fractions;
  for (int failures = 1; failures <= 10; ++failures) {
    const BandwidthSnapshot snapshot = WaitForAttempts(failures);
    ASSERT_EQ(snapshot.consecutive_failures, failures);
    const absl::Duration ceiling = std::min(
        absl::Milliseconds(200) * (1 << std::min(failures - 1, 10)), absl::Milliseconds(1600));
    const absl::Duration delay = snapshot.next_report - clock_.Now();
    EXPECT_GE(delay, ceiling / 2) << failures;
    EXPECT_LE(delay, ceiling) << failures;
    fractions.insert(absl::FDivDuration(delay, ceiling));
    clock_.Advance(delay);
  }
  EXPECT_GT(fractions.size(), 5u);  // Jittered, not a fixed schedule.
}

TEST_F(GrpcBandwidthClientTest, BackoffNeverExceedsTheReportInterval) {
  {
    absl::MutexLock lock(&mu_);
    interval_ms_ = 500;
  }
  StartClient();
  SetBrokerUp(false);
  for (int i = 0; i < 6; ++i) {
    RunNextReport();
    EXPECT_LE(client_->Snapshot().next_report - clock_.Now(), absl::Milliseconds(500));
  }
}

TEST_F(GrpcBandwidthClientTest, ReplacedDemandsAreReportedAndNewOnesSoon) {
  StartClient({TestDemand("alice", 1), TestDemand("bob", 2)});
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), 1);
  const int64_t attempts = client_->Snapshot().reports_attempted;

  ASSERT_TRUE(
      client_->ReplaceDemands({TestDemand("bob", 3), TestDemand("carol", 0), TestDemand("dave", 4)})
          .ok());
  // dave is new: reported after min_report_interval, not after the 10 s interval.
  EXPECT_EQ(client_->Snapshot().next_report, clock_.Now() + absl::Milliseconds(100));
  RunNextReport();
  const v1::ReportDemandsRequest last = requests().back();
  EXPECT_EQ(Users(last), (std::vector<std::string>{"bob", "dave"}));
  EXPECT_EQ(last.demands(0).demand_bytes_per_second(), 3);
  EXPECT_EQ(client_->Snapshot().reports_attempted, attempts + 1);
  EXPECT_EQ(client_->RateFor(TestGroup("dave")), 4);

  // Invalid lists change nothing.
  EXPECT_EQ(client_->ReplaceDemands({TestDemand("erin", -5)}).code(),
            absl::StatusCode::kInvalidArgument);
  RunNextReport();
  EXPECT_EQ(Users(requests().back()), (std::vector<std::string>{"bob", "dave"}));
}

TEST_F(GrpcBandwidthClientTest, GroupsWithoutDemandAreDroppedOnceTheirLeaseEnds) {
  StartClient({TestDemand("alice", 1)});
  const absl::Time lease_end = clock_.Now() + absl::Seconds(30);
  ASSERT_TRUE(client_->ReplaceDemands({}).ok());
  RunNextReport();
  EXPECT_TRUE(requests().back().demands().empty());
  EXPECT_EQ(client_->Snapshot().groups.size(), 1u);  // Lease still valid.
  RunNextReport();
  EXPECT_EQ(client_->Snapshot().groups.size(), 1u);
  RunNextReport();
  EXPECT_EQ(clock_.Now(), lease_end);
  EXPECT_TRUE(client_->Snapshot().groups.empty());
}

TEST_F(GrpcBandwidthClientTest, UnusableResponsesAreIgnoredAndRetried) {
  const std::vector<std::pair<std::string, std::function<void(v1::ReportDemandsResponse&)>>>
      corruptions = {
          {"2 grants for 1 demands", [](v1::ReportDemandsResponse& r) { r.add_grants(); }},
          {"rate_bytes_per_second is -1",
           [](v1::ReportDemandsResponse& r) {
             r.mutable_grants(0)->set_rate_bytes_per_second(-1);
           }},
          {"rate_bytes_per_second is nan",
           [](v1::ReportDemandsResponse& r) {
             r.mutable_grants(0)->set_rate_bytes_per_second(std::nan(""));
           }},
          {"is for a->b user=mallory",
           [](v1::ReportDemandsResponse& r) {
             r.mutable_grants(0)->mutable_group()->set_user("mallory");
           }},
          {"lease_expiry.nanos",
           [](v1::ReportDemandsResponse& r) {
             r.mutable_grants(0)->mutable_lease_expiry()->set_nanos(-1);
           }},
      };
  double granted = 5000;
  SetRate("alice", granted);
  StartClient({TestDemand("alice", 9000)});
  ASSERT_EQ(client_->RateFor(TestGroup("alice")), granted);
  for (const auto& [message, corrupt] : corruptions) {
    SetRate("alice", granted + 1);
    SetCorruption(corrupt);
    const BandwidthSnapshot snapshot = RunNextReport();
    EXPECT_EQ(snapshot.consecutive_failures, 1) << message;
    EXPECT_NE(snapshot.last_error.message().find(message), absl::string_view::npos)
        << snapshot.last_error;
    EXPECT_EQ(client_->RateFor(TestGroup("alice")), granted) << message;
    SetCorruption(nullptr);
    RunNextReport();  // A good answer in between resets the failure count.
    EXPECT_EQ(client_->RateFor(TestGroup("alice")), ++granted);
  }
}

TEST_F(GrpcBandwidthClientTest, LeasesAreCappedAtMaxLease) {
  SetCorruption([](v1::ReportDemandsResponse& r) {
    for (v1::FlowGrant& grant : *r.mutable_grants()) {
      grant.mutable_lease_expiry()->set_seconds(253402300799);  // Year 9999.
    }
  });
  SetRate("alice", 5000);
  GrpcBandwidthClientOptions options = TestOptions();
  options.max_lease = absl::Minutes(1);
  StartClient({TestDemand("alice", 9000)}, options);
  SetBrokerUp(false);
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), 5000);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(client_->RateFor(TestGroup("alice")), kFloor);
}

TEST_F(GrpcBandwidthClientTest, StopJoinsAndIsIdempotent) {
  StartClient();
  client_->Stop();
  client_->Stop();
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(requests().size(), 1u);
}

}  // namespace
}  // namespace ferry::bwclient
