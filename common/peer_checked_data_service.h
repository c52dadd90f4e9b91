// PeerCheckedDataService: a copyd's DataService behind the peer-role check of
// common/peer_role.h: only ferry processes (ferry://cluster/<cluster>/<role>, any
// cluster, any role) reach the wrapped service; a user or an unidentified certificate
// gets PERMISSION_DENIED or UNAUTHENTICATED before anything is read. Under
// --insecure_plaintext_unsafe every caller is ferry://anonymous and passes.
//
// It forwards each DataService method to `inner` (copyd/data_service.h, whose own
// capability checks come after this one) with the same context and messages. A method
// added to proto/data_service.proto must be forwarded here too, or it answers
// UNIMPLEMENTED; the test counts the methods.
//
// Ownership: borrows `inner`, which must outlive it. Thread safety: as `inner`.
#ifndef FERRY_COMMON_PEER_CHECKED_DATA_SERVICE_H_
#define FERRY_COMMON_PEER_CHECKED_DATA_SERVICE_H_

#include "proto/data_service.grpc.pb.h"

namespace ferry {

class PeerCheckedDataService final : public v1::DataService::CallbackService {
 public:
  explicit PeerCheckedDataService(v1::DataService::CallbackService* inner) : inner_(inner) {}

  grpc::ServerWriteReactor<v1::DataBlock>* ReadChunk(grpc::CallbackServerContext* context,
                                                     const v1::ReadChunkRequest* request) override;
  grpc::ServerWriteReactor<v1::DataBlock>* ReadFiles(grpc::CallbackServerContext* context,
                                                     const v1::ReadFilesRequest* request) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* context,
                                 const v1::StatRequest* request, v1::FileInfo* response) override;
  grpc::ServerWriteReactor<v1::ListResponse>* List(grpc::CallbackServerContext* context,
                                                   const v1::ListRequest* request) override;

 private:
  v1::DataService::CallbackService* const inner_;
};

}  // namespace ferry

#endif  // FERRY_COMMON_PEER_CHECKED_DATA_SERVICE_H_
