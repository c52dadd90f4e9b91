// The controller's gRPC services: thin adapters from the callback API to
// TransferManager. All status conversion happens here (common/grpc_status.h).
//
// Identity: until mTLS arrives (auth issue) every caller is the principal
// "anonymous"; PrincipalOf is the single place that will read the peer certificate.
//
// Thread safety: gRPC calls these from its callback threads; the manager serializes.
#ifndef FERRY_CONTROLLER_SERVICES_H_
#define FERRY_CONTROLLER_SERVICES_H_

#include "controller/transfer_manager.h"
#include "proto/copy_service.grpc.pb.h"
#include "proto/worker_service.grpc.pb.h"

namespace ferry::controller {

class CopyServiceImpl final : public v1::CopyService::CallbackService {
 public:
  explicit CopyServiceImpl(TransferManager* manager) : manager_(manager) {}

  grpc::ServerUnaryReactor* CreateTransfer(grpc::CallbackServerContext* context,
                                           const v1::CreateTransferRequest* request,
                                           v1::Transfer* response) override;
  grpc::ServerUnaryReactor* GetTransfer(grpc::CallbackServerContext* context,
                                        const v1::GetTransferRequest* request,
                                        v1::Transfer* response) override;
  grpc::ServerUnaryReactor* ListTransfers(grpc::CallbackServerContext* context,
                                          const v1::ListTransfersRequest* request,
                                          v1::ListTransfersResponse* response) override;
  grpc::ServerUnaryReactor* CancelTransfer(grpc::CallbackServerContext* context,
                                           const v1::CancelTransferRequest* request,
                                           v1::Transfer* response) override;
  grpc::ServerWriteReactor<v1::TransferEvent>* WatchTransfer(
      grpc::CallbackServerContext* context,
      const v1::WatchTransferRequest* request) override;

 private:
  TransferManager* const manager_;
};

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(TransferManager* manager) : manager_(manager) {}

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* context,
                                           const v1::RegisterWorkerRequest* request,
                                           v1::RegisterWorkerResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* LeaseTasks(grpc::CallbackServerContext* context,
                                       const v1::LeaseTasksRequest* request,
                                       v1::LeaseTasksResponse* response) override;
  grpc::ServerUnaryReactor* ReportTasks(grpc::CallbackServerContext* context,
                                        const v1::ReportTasksRequest* request,
                                        v1::ReportTasksResponse* response) override;

 private:
  TransferManager* const manager_;
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_SERVICES_H_
