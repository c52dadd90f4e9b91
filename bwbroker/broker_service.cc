#include "bwbroker/broker_service.h"

#include <utility>

#include "common/grpc_status.h"

namespace ferry::bwbroker {

grpc::ServerUnaryReactor* BandwidthBrokerService::ReportDemands(
    grpc::CallbackServerContext* context, const v1::ReportDemandsRequest* request,
    v1::ReportDemandsResponse* response) {
  absl::StatusOr<v1::ReportDemandsResponse> result = broker_->ReportDemands(*request);
  if (result.ok()) *response = *std::move(result);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* BandwidthBrokerService::ListAllocations(
    grpc::CallbackServerContext* context, const v1::ListAllocationsRequest* /*request*/,
    v1::ListAllocationsResponse* response) {
  *response = broker_->ListAllocations();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace ferry::bwbroker
