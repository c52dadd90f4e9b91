#include "controller/source_lister.h"

#include <utility>

#include "common/grpc_status.h"
#include "grpcpp/create_channel.h"

namespace ferry::controller {

GrpcSourceLister::GrpcSourceLister(std::shared_ptr<grpc::ChannelCredentials> credentials,
                                   absl::Duration rpc_timeout)
    : credentials_(std::move(credentials)), rpc_timeout_(rpc_timeout) {}

v1::DataService::StubInterface* GrpcSourceLister::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::DataService::NewStub(grpc::CreateChannel(address, credentials_));
  }
  return stub.get();
}

absl::StatusOr<v1::FileInfo> GrpcSourceLister::Stat(const std::string& address,
                                                    const std::string& path) {
  return StatWith(address, path, v1::Capability());
}

absl::Status GrpcSourceLister::List(const std::string& address, const std::string& path,
                                    const std::string& cursor,
                                    const PageCallback& on_page) {
  return ListWith(address, path, cursor, v1::Capability(), on_page);
}

absl::StatusOr<v1::FileInfo> GrpcSourceLister::StatWith(const std::string& address,
                                                        const std::string& path,
                                                        const v1::Capability& capability) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + rpc_timeout_));
  v1::StatRequest request;
  *request.mutable_capability() = capability;
  request.set_path(path);
  v1::FileInfo info;
  grpc::Status status = StubFor(address)->Stat(&context, request, &info);
  if (!status.ok()) return FromGrpcStatus(status);
  return info;
}

absl::Status GrpcSourceLister::ListWith(const std::string& address, const std::string& path,
                                        const std::string& cursor,
                                        const v1::Capability& capability,
                                        const PageCallback& on_page) {
  grpc::ClientContext context;
  v1::ListRequest request;
  *request.mutable_capability() = capability;
  request.set_path(path);
  request.set_cursor(cursor);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ListResponse>> reader =
      StubFor(address)->List(&context, request);
  v1::ListResponse page;
  while (reader->Read(&page)) {
    if (absl::Status status = on_page(page); !status.ok()) {
      context.TryCancel();
      reader->Finish();
      return status;
    }
  }
  return FromGrpcStatus(reader->Finish());
}

}  // namespace ferry::controller
