// BandwidthBrokerService: the gRPC face of the Broker (proto/bandwidth_broker.proto),
// a thin adapter on the callback API. Every status conversion happens here
// (common/grpc_status.h); the rules (validation, leases, recompute) are Broker's.
//
// Identity: every call must come from a controller, ferry://cluster/<any>/controller
// (common/peer_role.h): PERMISSION_DENIED naming the caller otherwise, UNAUTHENTICATED
// without a ferry identity; the unsafe plaintext mode's ferry://anonymous passes. A
// controller may report for any client_id (it names itself "controller/<cluster>").
//
// Thread safety: gRPC calls it from its callback threads; Broker serializes. The broker
// must outlive the server.
#ifndef FERRY_BWBROKER_BROKER_SERVICE_H_
#define FERRY_BWBROKER_BROKER_SERVICE_H_

#include "bwbroker/broker.h"
#include "proto/bandwidth_broker.grpc.pb.h"

namespace ferry::bwbroker {

class BandwidthBrokerService final : public v1::BandwidthBroker::CallbackService {
 public:
  explicit BandwidthBrokerService(Broker* broker) : broker_(broker) {}

  grpc::ServerUnaryReactor* ReportDemands(grpc::CallbackServerContext* context,
                                          const v1::ReportDemandsRequest* request,
                                          v1::ReportDemandsResponse* response) override;
  grpc::ServerUnaryReactor* ListAllocations(grpc::CallbackServerContext* context,
                                            const v1::ListAllocationsRequest* request,
                                            v1::ListAllocationsResponse* response) override;

 private:
  Broker* const broker_;
};

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_BROKER_SERVICE_H_
