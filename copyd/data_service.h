// DataServiceImpl: this copyd's DataService, serving its cluster's storage root.
//
// Stat and List let a controller plan a copy from this cluster without touching
// storage; ReadChunk streams a byte range in contiguous blocks, each with its offset
// and the CRC32C of the bytes as read, for copyds that pull from this cluster; a block
// carries at most 4 MiB - 4 KiB, so it fits gRPC's default 4 MiB message limit. Holes
// of sparse files (storage's DataExtents) are sent as hole blocks, never read. With the
// planned stat in the request, the open file is checked against it before the first
// block and after the last: a source modified meanwhile ends the stream
// FAILED_PRECONDITION "source changed (...)", so readers need no Stat afterwards.
// ReadFiles streams many whole files in one call (one file open at a time), each ended
// by an end_of_file block with its own outcome.
// Streams keep one write outstanding and reuse one message buffer, so memory per
// stream is one block (ReadChunk) or one page of entries (List).
//
// Authorization: this class checks nothing itself; copyd serves it behind
// CapabilityCheckedDataService (capability_checked_data_service.h: the request's
// Capability and this cluster's policy, before any storage access) inside
// common/peer_checked_data_service.h.
//
// Thread safety: gRPC calls it from many threads; `fs` must be thread-safe.
#ifndef FERRY_COPYD_DATA_SERVICE_H_
#define FERRY_COPYD_DATA_SERVICE_H_

#include <functional>

#include "absl/strings/string_view.h"
#include "proto/data_service.grpc.pb.h"
#include "storage/file_system.h"

namespace ferry::copyd {

class DataServiceImpl final : public v1::DataService::CallbackService {
 public:
  // Sees every data block after its CRC32C is computed, before it is sent: fault
  // injection for tests (a flipped bit on the wire), never set in production builds.
  // Called from gRPC threads, possibly concurrently.
  using BlockHook = std::function<void(absl::string_view path, v1::DataBlock* block)>;

  // `fs` must outlive the service.
  explicit DataServiceImpl(storage::FileSystem* fs, BlockHook block_hook = nullptr)
      : fs_(fs), block_hook_(std::move(block_hook)) {}

  grpc::ServerWriteReactor<v1::DataBlock>* ReadChunk(
      grpc::CallbackServerContext* context, const v1::ReadChunkRequest* request) override;
  grpc::ServerWriteReactor<v1::DataBlock>* ReadFiles(
      grpc::CallbackServerContext* context, const v1::ReadFilesRequest* request) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* context,
                                 const v1::StatRequest* request,
                                 v1::FileInfo* response) override;
  grpc::ServerWriteReactor<v1::ListResponse>* List(grpc::CallbackServerContext* context,
                                                   const v1::ListRequest* request) override;

 private:
  storage::FileSystem* const fs_;
  const BlockHook block_hook_;
};

// Converts a storage entry to the wire form, with its path made relative to `base`
// (a root-relative directory; "" for the root).
v1::FileInfo ToProtoFileInfo(const storage::FileInfo& info, absl::string_view base);

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_DATA_SERVICE_H_
