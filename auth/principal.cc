#include "auth/principal.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/grpc_security_constants.h"

namespace ferry::auth {
namespace {

constexpr absl::string_view kScheme = "ferry://";
constexpr absl::string_view kUserPrefix = "user/";
constexpr absl::string_view kClusterPrefix = "cluster/";
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxQuotedLength = 100;

// Certificates come from anyone who can open a connection: quote what they say, never
// more than a line of it.
std::string Quote(absl::string_view text) {
  const bool cut = text.size() > kMaxQuotedLength;
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxQuotedLength)),
                      cut ? "...'" : "'");
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

absl::Status CheckName(absl::string_view what, absl::string_view name,
                       absl::string_view uri) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "principal ", Quote(uri), ": ", what, " must have 1 to ", kMaxNameLength,
        " characters"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "principal ", Quote(uri), ": ", what, " may only use [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

bool IsRole(absl::string_view role) {
  return role == "controller" || role == "copyd" || role == "bwbroker";
}

absl::StatusOr<Principal> ParseCluster(absl::string_view rest, absl::string_view uri) {
  std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal ", Quote(uri), ": expected ferry://cluster/<name>/<role>"));
  }
  if (absl::Status status = CheckName("cluster name", parts[0], uri); !status.ok()) {
    return status;
  }
  if (!IsRole(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "principal ", Quote(uri), ": role must be controller, copyd or bwbroker"));
  }
  return Principal{PrincipalKind::kCluster, std::string(parts[0]), std::string(parts[1])};
}

absl::StatusOr<Principal> ParseUser(absl::string_view name, absl::string_view uri) {
  if (absl::Status status = CheckName("user name", name, uri); !status.ok()) return status;
  return Principal{PrincipalKind::kUser, std::string(name), ""};
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(
      absl::StrCat("peer certificate does not identify a ferry principal: ", why));
}

}  // namespace

absl::StatusOr<Principal> ParsePrincipal(absl::string_view uri) {
  if (uri == kAnonymousPrincipal) return Principal{};
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, kScheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal ", Quote(uri), ": not a ferry:// URI"));
  }
  if (absl::ConsumePrefix(&rest, kUserPrefix)) return ParseUser(rest, uri);
  if (absl::ConsumePrefix(&rest, kClusterPrefix)) return ParseCluster(rest, uri);
  return absl::InvalidArgumentError(absl::StrCat(
      "principal ", Quote(uri), ": expected ferry://user/... or ferry://cluster/..."));
}

std::string PrincipalUri(const Principal& principal) {
  switch (principal.kind) {
    case PrincipalKind::kUser:
      return absl::StrCat(kScheme, kUserPrefix, principal.name);
    case PrincipalKind::kCluster:
      return absl::StrCat(kScheme, kClusterPrefix, principal.name, "/", principal.role);
    case PrincipalKind::kAnonymous:
      break;
  }
  return kAnonymousPrincipal;
}

absl::StatusOr<std::string> PrincipalOf(const grpc::AuthContext& context) {
  const std::vector<grpc::string_ref> transport =
      context.FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  if (transport.size() == 1 && transport[0] == "insecure") return kAnonymousPrincipal;
  // gRPC's TLS credentials say "tls", its older SSL credentials "ssl"; both verify.
  if (transport.size() != 1 || (transport[0] != GRPC_TLS_TRANSPORT_SECURITY_TYPE &&
                                transport[0] != GRPC_SSL_TRANSPORT_SECURITY_TYPE)) {
    return Unauthenticated("not a TLS connection");
  }
  std::vector<absl::string_view> ferry_uris;
  for (const grpc::string_ref& value : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    absl::string_view uri(value.data(), value.size());
    if (absl::StartsWith(uri, kScheme)) ferry_uris.push_back(uri);
  }
  if (ferry_uris.empty()) return Unauthenticated("no ferry:// URI SAN");
  if (ferry_uris.size() > 1) {
    return Unauthenticated(absl::StrCat(ferry_uris.size(), " ferry:// URI SANs, not one"));
  }
  // Anonymous is what a plaintext peer is, not something a certificate may claim.
  absl::StatusOr<Principal> principal = ParsePrincipal(ferry_uris[0]);
  if (!principal.ok()) return Unauthenticated(principal.status().message());
  if (principal->kind == PrincipalKind::kAnonymous) {
    return Unauthenticated("a certificate may not claim ferry://anonymous");
  }
  return std::string(ferry_uris[0]);
}

absl::StatusOr<std::string> PrincipalOf(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return Unauthenticated("no authentication context");
  return PrincipalOf(*auth);
}

}  // namespace ferry::auth
