#include "bwbroker/broker_service.h"

#include <utility>

#include "common/grpc_status.h"
#include "common/peer_role.h"

namespace ferry::bwbroker {
namespace {

const PeerRule& ControllersOnly() {
  static const PeerRule* const rule =
      new PeerRule(ProcessesOnly("BandwidthBroker", /*cluster=*/"", "controller"));
  return *rule;
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* BandwidthBrokerService::ReportDemands(
    grpc::CallbackServerContext* context, const v1::ReportDemandsRequest* request,
    v1::ReportDemandsResponse* response) {
  if (absl::StatusOr<std::string> peer = AuthorizePeer(*context, ControllersOnly()); !peer.ok()) {
    return Refuse(context, peer.status());
  }
  absl::StatusOr<v1::ReportDemandsResponse> result = broker_->ReportDemands(*request);
  if (result.ok()) *response = *std::move(result);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* BandwidthBrokerService::ListAllocations(
    grpc::CallbackServerContext* context, const v1::ListAllocationsRequest* /*request*/,
    v1::ListAllocationsResponse* response) {
  if (absl::StatusOr<std::string> peer = AuthorizePeer(*context, ControllersOnly()); !peer.ok()) {
    return Refuse(context, peer.status());
  }
  *response = broker_->ListAllocations();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace ferry::bwbroker
