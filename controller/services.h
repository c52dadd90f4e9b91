// The controller's gRPC services: thin adapters from the callback API to
// TransferManager. All status conversion happens here (common/grpc_status.h).
//
// Identity: the caller is the principal of its certificate (auth/principal.h), checked
// against the service's peer role first (common/peer_role.h):
//  - CopyService: users only (ferry://user/<name>); a process principal
//    (ferry://cluster/...) gets PERMISSION_DENIED, so it can neither create transfers
//    nor read them. A transfer's user is the caller's principal URI, e.g.
//    "ferry://user/alice" (the key of --user_weights and of ListTransfers' user filter).
//  - WorkerService: only this cluster's copyds (ferry://cluster/<cluster>/copyd).
// A certificate without a valid ferry identity gets UNAUTHENTICATED. Under
// --insecure_plaintext_unsafe every caller is ferry://anonymous and the role checks are
// skipped (anonymous owns the transfers then).
//
// Policy (controller/authorizer_hooks.h, when a TransferPolicy is given): CreateTransfer
// needs READ on the source and WRITE on every destination (PERMISSION_DENIED naming the
// path, checked before anything is persisted); ListTransfers of another user or of all
// users, and Get/Watch/CancelTransfer of another user's transfer, need the admin role.
// Without a policy (only under --insecure_plaintext_unsafe) no grant is checked.
//
// Thread safety: gRPC calls these from its callback threads; the manager serializes.
#ifndef FERRY_CONTROLLER_SERVICES_H_
#define FERRY_CONTROLLER_SERVICES_H_

#include "common/clock.h"
#include "controller/authorizer_hooks.h"
#include "controller/lease_wait_list.h"
#include "controller/transfer_manager.h"
#include "proto/copy_service.grpc.pb.h"
#include "proto/worker_service.grpc.pb.h"

namespace ferry::controller {

class CopyServiceImpl final : public v1::CopyService::CallbackService {
 public:
  // `policy` may be null (no policy checks); both must outlive the service.
  explicit CopyServiceImpl(TransferManager* manager, const TransferPolicy* policy = nullptr)
      : manager_(manager), policy_(policy) {}

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
  // The transfer `id` if `user` may see or act on it with `verb` (owner or admin).
  absl::StatusOr<v1::Transfer> OwnTransfer(const std::string& user, absl::string_view verb,
                                           const std::string& id);

  TransferManager* const manager_;
  const TransferPolicy* const policy_;
};

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(TransferManager* manager) : manager_(manager) {}
  // With `waits` (not owned; outlives the service), a LeaseTasks call that asks to wait
  // (wait_ms) and finds nothing runnable is held there (long poll) until `clock`'s now
  // plus its wait.
  WorkerServiceImpl(TransferManager* manager, LeaseWaitList* waits, const Clock* clock)
      : manager_(manager), waits_(waits), clock_(clock) {}

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
  LeaseWaitList* const waits_ = nullptr;
  const Clock* const clock_ = nullptr;
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_SERVICES_H_
