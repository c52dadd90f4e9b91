// SourceLister: how the controller sees a source tree without touching storage.
//
// The controller never opens files itself; it asks a copyd of the source cluster,
// through DataService, to stat and list. The production implementation speaks gRPC;
// tests use a fake over an in-memory tree.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef FERRY_CONTROLLER_SOURCE_LISTER_H_
#define FERRY_CONTROLLER_SOURCE_LISTER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/credentials.h"
#include "proto/data_service.grpc.pb.h"

namespace ferry::controller {

class SourceLister {
 public:
  virtual ~SourceLister() = default;

  // lstat of `path` on the DataService at `address`.
  virtual absl::StatusOr<v1::FileInfo> Stat(const std::string& address,
                                            const std::string& path) = 0;

  // Streams the tree under `path` starting after `cursor`, calling `on_page` for each
  // page in order; stops early (returning that status) when `on_page` fails.
  using PageCallback = std::function<absl::Status(const v1::ListResponse&)>;
  virtual absl::Status List(const std::string& address, const std::string& path,
                            const std::string& cursor, const PageCallback& on_page) = 0;

  // The same, carrying `capability` (a LIST of the source root signed for the
  // transfer, controller/authorizer_hooks.h) for copyds that check one. The defaults
  // drop it (fakes); GrpcSourceLister sends it.
  virtual absl::StatusOr<v1::FileInfo> StatWith(const std::string& address,
                                                const std::string& path,
                                                const v1::Capability& /*capability*/) {
    return Stat(address, path);
  }
  virtual absl::Status ListWith(const std::string& address, const std::string& path,
                                const std::string& cursor, const v1::Capability& /*capability*/,
                                const PageCallback& on_page) {
    return List(address, path, cursor, on_page);
  }
};

// Over gRPC, one cached channel per address, all made with the controller's channel
// credentials (mTLS: the copyds see ferry://cluster/<this cluster>/controller).
class GrpcSourceLister : public SourceLister {
 public:
  // `rpc_timeout` bounds Stat; List has no overall deadline but fails when the
  // connection does.
  GrpcSourceLister(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   absl::Duration rpc_timeout);

  absl::StatusOr<v1::FileInfo> Stat(const std::string& address,
                                    const std::string& path) override;
  absl::Status List(const std::string& address, const std::string& path,
                    const std::string& cursor, const PageCallback& on_page) override;
  absl::StatusOr<v1::FileInfo> StatWith(const std::string& address, const std::string& path,
                                        const v1::Capability& capability) override;
  absl::Status ListWith(const std::string& address, const std::string& path,
                        const std::string& cursor, const v1::Capability& capability,
                        const PageCallback& on_page) override;

 private:
  v1::DataService::StubInterface* StubFor(const std::string& address);

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const absl::Duration rpc_timeout_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<v1::DataService::StubInterface>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_SOURCE_LISTER_H_
