// BandwidthBrokerService on a real mTLS server (certificates from tools/gen-certs.sh):
// only controllers, of any cluster, may call it.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/test_certs.h"
#include "auth/tls.h"
#include "bwbroker/broker_service.h"
#include "bwbroker/config.h"
#include "common/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/bandwidth_broker.grpc.pb.h"

namespace ferry::bwbroker {
namespace {

class BrokerServicePeerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(absl::StrCat(getenv("TEST_TMPDIR"), "/certs"));
    absl::Status generated = auth::GenerateTestCerts(
        *certs_, {"--cluster", "a", "--cluster", "b", "--user", "alice", "--no-ferry-uri", "plain"});
    ASSERT_TRUE(generated.ok()) << generated;
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override {
    absl::StatusOr<BrokerConfig> config = ParseConfig(R"pb(
      links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 1000 }
    )pb");
    ASSERT_TRUE(config.ok()) << config.status();
    broker_ = std::make_unique<Broker>(*config, &clock_);
    service_ = std::make_unique<BandwidthBrokerService>(broker_.get());
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        auth::ServerCredentials(auth::TestTlsConfig(*certs_, "b-bwbroker"));
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  std::unique_ptr<v1::BandwidthBroker::Stub> StubAs(absl::string_view name) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        auth::ChannelCredentials(auth::TestTlsConfig(*certs_, name));
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return v1::BandwidthBroker::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port_), credentials.ok() ? *credentials : nullptr));
  }

  grpc::Status ReportAs(absl::string_view name) {
    v1::ReportDemandsRequest request;
    request.set_client_id("controller/b");
    v1::FlowDemand* demand = request.add_demands();
    demand->mutable_group()->set_source_cluster("a");
    demand->mutable_group()->set_destination_cluster("b");
    demand->mutable_group()->set_user("alice");
    demand->mutable_group()->set_priority(v1::PRIORITY_CLASS_BATCH);
    demand->set_demand_bytes_per_second(800);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ReportDemandsResponse response;
    return StubAs(name)->ReportDemands(&context, request, &response);
  }

  grpc::Status ListAs(absl::string_view name) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ListAllocationsResponse response;
    return StubAs(name)->ListAllocations(&context, v1::ListAllocationsRequest(), &response);
  }

  static std::string* certs_;
  SimulatedClock clock_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<BandwidthBrokerService> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::string* BrokerServicePeerTest::certs_ = nullptr;

TEST_F(BrokerServicePeerTest, ControllersOfAnyClusterMayCall) {
  for (const char* controller : {"a-controller", "b-controller"}) {
    grpc::Status report = ReportAs(controller);
    EXPECT_TRUE(report.ok()) << controller << ": " << report.error_message();
    grpc::Status list = ListAs(controller);
    EXPECT_TRUE(list.ok()) << controller << ": " << list.error_message();
  }
}

TEST_F(BrokerServicePeerTest, OtherProcessesAndUsersAreRefusedNamingTheRule) {
  for (const char* other : {"b-copyd", "a-bwbroker", "user-alice"}) {
    grpc::Status report = ReportAs(other);
    EXPECT_EQ(report.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << other << ": " << report.error_message();
    EXPECT_NE(report.error_message().find("BandwidthBroker"), std::string::npos)
        << report.error_message();
    EXPECT_EQ(ListAs(other).error_code(), grpc::StatusCode::PERMISSION_DENIED) << other;
  }
}

TEST_F(BrokerServicePeerTest, ACertificateWithoutAFerryIdentityIsUnauthenticated) {
  EXPECT_EQ(ReportAs("plain").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace ferry::bwbroker
