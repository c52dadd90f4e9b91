// Which kind of peer may call a ferry service at all: the role check every server makes
// before its own authorization (the policy and capability checks of auth/ come after).
//
// The rules of ferry's services (principals as in auth/principal.h):
//   CopyService    users only: ferry://user/<name>. A process (ferry://cluster/...) is
//                  refused, also for reads: a transfer's user is the person or pipeline
//                  whose grants the policy checks, and a process certificate, which sits
//                  on every machine of a cluster, must not act as one. Pipelines get a
//                  user certificate of their own.
//   WorkerService  the copyds of the controller's own cluster:
//                  ferry://cluster/<this cluster>/copyd
//   DataService    any ferry process of any cluster: ferry://cluster/<cluster>/<role>
//                  (a destination's controller lists, its copyds read)
//
// Unsafe plaintext mode: every caller of a plaintext server is ferry://anonymous and the
// rules let it through, as there is no identity to check. This opens nothing on a TLS
// server: PrincipalOf gives ferry://anonymous only for gRPC's "insecure" transport, which
// exists only on a server started with --insecure_plaintext_unsafe.
//
// Failure: UNAUTHENTICATED from PrincipalOf (a certificate without exactly one valid
// ferry:// URI: present another one); PERMISSION_DENIED naming the caller and who may
// call (another certificate will not help unless it has that role).
// Thread safety: pure functions.
#ifndef FERRY_COMMON_PEER_ROLE_H_
#define FERRY_COMMON_PEER_ROLE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/principal.h"
#include "common/grpc_status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"

namespace ferry {

struct PeerRule {
  std::string service;  // Names the service in messages: "CopyService".
  auth::PrincipalKind kind = auth::PrincipalKind::kUser;  // kUser or kCluster.
  std::string cluster;  // kCluster: only this cluster's processes; empty: any cluster.
  std::string role;     // kCluster: only this role; empty: any role.
};

// ferry://user/<any name>.
PeerRule UsersOnly(absl::string_view service);
// ferry://cluster/<cluster>/<role>; an empty cluster or role matches any.
PeerRule ProcessesOnly(absl::string_view service, absl::string_view cluster,
                       absl::string_view role);

// `principal` as PrincipalOf returned it; returns the principal URI when `rule` admits
// it (kAnonymousPrincipal always), its error or PERMISSION_DENIED otherwise.
absl::StatusOr<std::string> CheckPeer(const absl::StatusOr<std::string>& principal,
                                      const PeerRule& rule);

// CheckPeer of the caller of a server RPC.
absl::StatusOr<std::string> AuthorizePeer(const grpc::ServerContextBase& context,
                                          const PeerRule& rule);

// A server stream refused before its first message: ends with `status` at once and
// deletes itself when done. For a streaming method's peer check (callback API).
template <typename Message>
grpc::ServerWriteReactor<Message>* RefuseStream(const absl::Status& status) {
  class Refused final : public grpc::ServerWriteReactor<Message> {
   public:
    explicit Refused(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
    void OnDone() override { delete this; }
  };
  return new Refused(status);
}

}  // namespace ferry

#endif  // FERRY_COMMON_PEER_ROLE_H_
