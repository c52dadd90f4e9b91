#include "common/peer_checked_data_service.h"

#include "absl/status/statusor.h"
#include "common/grpc_status.h"
#include "common/peer_role.h"

namespace ferry {
namespace {

absl::Status CheckCaller(const grpc::CallbackServerContext& context) {
  return AuthorizePeer(context, ProcessesOnly("DataService", "", "")).status();
}

}  // namespace

grpc::ServerWriteReactor<v1::DataBlock>* PeerCheckedDataService::ReadChunk(
    grpc::CallbackServerContext* context, const v1::ReadChunkRequest* request) {
  if (absl::Status status = CheckCaller(*context); !status.ok()) {
    return RefuseStream<v1::DataBlock>(status);
  }
  return inner_->ReadChunk(context, request);
}

grpc::ServerWriteReactor<v1::DataBlock>* PeerCheckedDataService::ReadFiles(
    grpc::CallbackServerContext* context, const v1::ReadFilesRequest* request) {
  if (absl::Status status = CheckCaller(*context); !status.ok()) {
    return RefuseStream<v1::DataBlock>(status);
  }
  return inner_->ReadFiles(context, request);
}

grpc::ServerUnaryReactor* PeerCheckedDataService::Stat(grpc::CallbackServerContext* context,
                                                       const v1::StatRequest* request,
                                                       v1::FileInfo* response) {
  if (absl::Status status = CheckCaller(*context); !status.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  return inner_->Stat(context, request, response);
}

grpc::ServerWriteReactor<v1::ListResponse>* PeerCheckedDataService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request) {
  if (absl::Status status = CheckCaller(*context); !status.ok()) {
    return RefuseStream<v1::ListResponse>(status);
  }
  return inner_->List(context, request);
}

}  // namespace ferry
