// Who is calling: the principal of a gRPC peer, read from its verified certificate.
//
// Purpose: the only way ferry learns the identity of a caller (or of the server a
// client reached). A principal is a URI in a certificate's subjectAltName, never a
// request field:
//   ferry://user/<name>                 a person (the CLI)
//   ferry://cluster/<cluster>/<role>    a process; role is controller, copyd or bwbroker
//   ferry://anonymous                   the peer of a plaintext channel, which exists
//                                       only under --insecure_plaintext_unsafe
// Names are 1 to 64 characters of [A-Za-z0-9._-] (the rule of auth/policy.h).
//
// PrincipalOf reads what gRPC 1.51 puts in the AuthContext after a handshake:
// "transport_security_type" ("tls" for auth/tls.h's credentials, "ssl" for gRPC's older
// SslCredentials, "insecure" for plaintext) and "peer_uri" (one value per URI SAN of the
// peer's leaf certificate; "x509_subject_alternative_name" mixes URIs, DNS names and IPs
// without their types, so it is not used). It trusts that the handshake
// verified the certificate, which holds for servers built with ServerCredentials and
// clients built with ChannelCredentials (auth/tls.h): an unverified certificate never
// completes their handshake. A TLS peer without exactly one well-formed ferry:// URI
// (none, several, a malformed one) is UNAUTHENTICATED: the caller must present another
// certificate. Non-ferry URIs (spiffe://, ...) are ignored.
//
// Thread safety: pure functions; the AuthContext is only read.
#ifndef FERRY_AUTH_PRINCIPAL_H_
#define FERRY_AUTH_PRINCIPAL_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/server_context.h"

namespace ferry::auth {

inline constexpr char kAnonymousPrincipal[] = "ferry://anonymous";

enum class PrincipalKind { kUser, kCluster, kAnonymous };

struct Principal {
  PrincipalKind kind = PrincipalKind::kAnonymous;
  std::string name;  // user name or cluster name; empty for kAnonymous
  std::string role;  // kCluster only: "controller", "copyd" or "bwbroker"
};

// Parses and validates one of the three shapes above. INVALID_ARGUMENT saying what is
// wrong (the URI is quoted, escaped and cut to 100 characters).
absl::StatusOr<Principal> ParsePrincipal(absl::string_view uri);

// The URI of a principal; the inverse of ParsePrincipal for valid principals.
std::string PrincipalUri(const Principal& principal);

// The peer's principal URI (see the contract above): kAnonymousPrincipal for a
// plaintext peer; UNAUTHENTICATED for a TLS peer without exactly one valid ferry URI,
// or for an unknown transport.
absl::StatusOr<std::string> PrincipalOf(const grpc::AuthContext& context);

// The caller of a server RPC (CallbackServerContext, ServerContext).
absl::StatusOr<std::string> PrincipalOf(const grpc::ServerContextBase& context);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_PRINCIPAL_H_
