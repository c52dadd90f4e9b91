// GrpcBandwidthClient over a real channel to an in-process broker on 127.0.0.1 that is
// stopped and started again on the same port: the client keeps the grant while the
// broker is gone and picks up the new grant soon after it returns.
#include <iostream>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bwclient/grpc_bandwidth_client.h"
#include "bwclient/test_groups.h"
#include "common/clock.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/bandwidth_broker.grpc.pb.h"

namespace ferry::bwclient {
namespace {

constexpr absl::Duration kReportInterval = absl::Milliseconds(200);
constexpr absl::Duration kRealTimeLimit = absl::Seconds(20);

// Grants every demand `rate` with a 30 s lease and asks for a report every 200 ms.
class FixedRateBroker final : public v1::BandwidthBroker::CallbackService {
 public:
  explicit FixedRateBroker(double rate) : rate_(rate) {}

  grpc::ServerUnaryReactor* ReportDemands(grpc::CallbackServerContext* context,
                                          const v1::ReportDemandsRequest* request,
                                          v1::ReportDemandsResponse* response) override {
    for (const v1::FlowDemand& demand : request->demands()) {
      v1::FlowGrant* grant = response->add_grants();
      *grant->mutable_group() = demand.group();
      grant->set_rate_bytes_per_second(rate_);
      *grant->mutable_lease_expiry() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(absl::Now() + absl::Seconds(30)));
    }
    response->set_report_interval_ms(absl::ToInt64Milliseconds(kReportInterval));
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const double rate_;
};

struct RunningBroker {
  std::unique_ptr<FixedRateBroker> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

RunningBroker StartBroker(double rate, int port) {
  RunningBroker broker;
  broker.service = std::make_unique<FixedRateBroker>(rate);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &broker.port);
  builder.RegisterService(broker.service.get());
  broker.server = builder.BuildAndStart();
  return broker;
}

// Polls (bounded, real time) until `done` holds.
template <typename Predicate>
bool PollUntil(Predicate done) {
  const absl::Time give_up = absl::Now() + kRealTimeLimit;
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(GrpcBandwidthClientChannelTest, KeepsTheGrantWhileTheBrokerIsDownAndRecoversAfter) {
  RunningBroker broker = StartBroker(5000, 0);
  ASSERT_NE(broker.server, nullptr);
  ASSERT_GT(broker.port, 0);
  const int port = broker.port;

  GrpcBandwidthClientOptions options;
  options.client_id = "controller/b";
  options.floor_bytes_per_second = 1000;
  options.default_report_interval = kReportInterval;
  options.min_report_interval = absl::Milliseconds(50);
  options.initial_backoff = absl::Milliseconds(50);
  options.max_backoff = kReportInterval;
  options.rpc_timeout = absl::Seconds(2);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(),
      BrokerChannelArguments(options));
  std::unique_ptr<v1::BandwidthBroker::Stub> stub = v1::BandwidthBroker::NewStub(channel);
  RealClock clock;
  auto created = GrpcBandwidthClient::Create(stub.get(), &clock, options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<GrpcBandwidthClient> client = std::move(*created);
  ASSERT_TRUE(client->ReplaceDemands({TestDemand("alice", 9000)}).ok());
  client->Start();
  ASSERT_TRUE(PollUntil([&] { return client->RateFor(TestGroup("alice")) == 5000; }));

  broker.server->Shutdown(std::chrono::system_clock::now());
  broker.server->Wait();
  broker = RunningBroker();
  ASSERT_TRUE(PollUntil([&] { return client->Snapshot().consecutive_failures >= 5; }));
  EXPECT_EQ(client->RateFor(TestGroup("alice")), 5000);  // The lease is still valid.

  const absl::Time restarted = absl::Now();
  broker = StartBroker(6000, port);
  ASSERT_NE(broker.server, nullptr) << "port " << port << " was taken meanwhile";
  ASSERT_TRUE(PollUntil([&] { return client->RateFor(TestGroup("alice")) == 6000; }));
  const absl::Duration recovery = absl::Now() - restarted;
  std::cout << "FIGURE bwclient_recovery_ms " << absl::ToInt64Milliseconds(recovery) << "\n";
  // Two report intervals plus room for a loaded machine.
  EXPECT_LT(recovery, 5 * kReportInterval);
  client->Stop();
}

}  // namespace
}  // namespace ferry::bwclient
