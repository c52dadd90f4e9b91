// BandwidthBrokerService over a real in-process gRPC server on 127.0.0.1:0.
#include "bwbroker/broker_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "bwbroker/config.h"
#include "common/clock.h"
#include "common/server_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/bandwidth_broker.grpc.pb.h"

namespace ferry::bwbroker {
namespace {

class BrokerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<BrokerConfig> config = ParseConfig(R"pb(
      links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 1000 }
    )pb");
    ASSERT_TRUE(config.ok()) << config.status();
    broker_ = std::make_unique<Broker>(*config, &clock_);
    service_ = std::make_unique<BandwidthBrokerService>(broker_.get());
    ConfigureCommonServerOptions();
    grpc::ServerBuilder builder;
    AddListeningPort(builder, "127.0.0.1:0", &port_);
    builder.RegisterService(service_.get());
    absl::StatusOr<std::unique_ptr<grpc::Server>> server =
        StartServer(builder, &port_, "127.0.0.1:0");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::BandwidthBroker::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Report(const std::string& client, const std::string& user, double demand,
                      v1::ReportDemandsResponse* response) {
    v1::ReportDemandsRequest request;
    request.set_client_id(client);
    v1::FlowDemand* flow = request.add_demands();
    flow->mutable_group()->set_source_cluster("a");
    flow->mutable_group()->set_destination_cluster("b");
    flow->mutable_group()->set_user(user);
    flow->mutable_group()->set_priority(v1::PRIORITY_CLASS_BATCH);
    flow->set_demand_bytes_per_second(demand);
    grpc::ClientContext context;
    return stub_->ReportDemands(&context, request, response);
  }

  SimulatedClock clock_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<BandwidthBrokerService> service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::BandwidthBroker::Stub> stub_;
};

TEST_F(BrokerServiceTest, ReportsAreAnsweredWithGrants) {
  v1::ReportDemandsResponse first;
  ASSERT_TRUE(Report("c1", "u", 800, &first).ok());
  ASSERT_EQ(first.grants_size(), 1);
  EXPECT_EQ(first.grants(0).rate_bytes_per_second(), 800);
  EXPECT_EQ(first.report_interval_ms(), 1000);
  EXPECT_EQ(first.grants(0).lease_expiry().seconds(),
            absl::ToUnixSeconds(clock_.Now() + absl::Seconds(5)));

  v1::ReportDemandsResponse second;
  ASSERT_TRUE(Report("c2", "v", 800, &second).ok());
  EXPECT_EQ(second.grants(0).rate_bytes_per_second(), 500);
}

TEST_F(BrokerServiceTest, BadRequestsAreInvalidArgumentNamingTheField) {
  v1::ReportDemandsResponse response;
  grpc::Status status = Report("", "u", 1, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "client_id: required");
  status = Report("c1", "u", -3, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("demands[0].demand_bytes_per_second"), std::string::npos)
      << status.error_message();
}

TEST_F(BrokerServiceTest, ListAllocationsShowsTheLinks) {
  v1::ReportDemandsResponse report;
  ASSERT_TRUE(Report("c1", "u", 5000, &report).ok());
  grpc::ClientContext context;
  v1::ListAllocationsResponse list;
  ASSERT_TRUE(stub_->ListAllocations(&context, v1::ListAllocationsRequest(), &list).ok());
  ASSERT_EQ(list.links_size(), 1);
  EXPECT_EQ(list.links(0).capacity_bytes_per_second(), 1000);
  EXPECT_EQ(list.links(0).demand_bytes_per_second(), 5000);
  EXPECT_EQ(list.links(0).allocated_bytes_per_second(), 1000);
  ASSERT_EQ(list.links(0).grants_size(), 1);
  EXPECT_EQ(list.links(0).grants(0).group().user(), "u");
}

}  // namespace
}  // namespace ferry::bwbroker
