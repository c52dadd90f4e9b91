#include "common/peer_role.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ferry {
namespace {

std::string Admitted(const PeerRule& rule) {
  if (rule.kind == auth::PrincipalKind::kUser) return "users (ferry://user/<name>)";
  return absl::StrCat("ferry://cluster/", rule.cluster.empty() ? "<cluster>" : rule.cluster, "/",
                      rule.role.empty() ? "<role>" : rule.role);
}

bool Admits(const PeerRule& rule, const auth::Principal& peer) {
  if (peer.kind != rule.kind) return false;
  if (peer.kind != auth::PrincipalKind::kCluster) return true;
  return (rule.cluster.empty() || rule.cluster == peer.name) &&
         (rule.role.empty() || rule.role == peer.role);
}

}  // namespace

PeerRule UsersOnly(absl::string_view service) {
  return PeerRule{std::string(service), auth::PrincipalKind::kUser, "", ""};
}

PeerRule ProcessesOnly(absl::string_view service, absl::string_view cluster,
                       absl::string_view role) {
  return PeerRule{std::string(service), auth::PrincipalKind::kCluster, std::string(cluster),
                  std::string(role)};
}

absl::StatusOr<std::string> CheckPeer(const absl::StatusOr<std::string>& principal,
                                      const PeerRule& rule) {
  if (!principal.ok()) return principal.status();
  absl::StatusOr<auth::Principal> peer = auth::ParsePrincipal(*principal);
  // PrincipalOf returns only valid URIs; anything else is no identity at all.
  if (!peer.ok()) return absl::UnauthenticatedError(peer.status().message());
  if (peer->kind == auth::PrincipalKind::kAnonymous || Admits(rule, *peer)) return *principal;
  return absl::PermissionDeniedError(
      absl::StrCat(rule.service, " accepts only ", Admitted(rule), "; the caller is ", *principal));
}

absl::StatusOr<std::string> AuthorizePeer(const grpc::ServerContextBase& context,
                                          const PeerRule& rule) {
  return CheckPeer(auth::PrincipalOf(context), rule);
}

}  // namespace ferry
