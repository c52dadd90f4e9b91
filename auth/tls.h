// mTLS credentials for every gRPC channel between ferry processes and from the CLI.
//
// Purpose: the one place that decides how ferry's servers and clients secure a channel.
// Both ends present a certificate signed by the ferry CA (tools/gen-certs.sh makes
// them); servers require and verify the client's certificate, clients verify the
// server's certificate and that it names the host they dialled (certificates carry the
// SANs IP:127.0.0.1 and DNS:localhost, so local deployments need no target-name
// override; a server on another host needs a certificate with that host's name). Who
// the peer is comes from its certificate: see auth/principal.h.
//
// Built on gRPC 1.51's TLS credentials (grpc::experimental::TlsServerCredentials /
// TlsCredentials) over OpenSSL, with a FileWatcherCertificateProvider: the CA, the
// certificate and the key are re-read every `reload_interval` and new handshakes use
// the new files, so a rotation is "replace the files" with no restart. Connections
// already open keep the credentials they were made with. When a reload finds the key
// and certificate do not match (half-written rotation), gRPC keeps the previous pair;
// rewrite files through a rename (gen-certs.sh does) to avoid the window.
//
// What a refusal looks like: a peer whose certificate is missing, expired, or signed by
// another CA fails the TLS handshake, so no RPC reaches any handler. The client sees
// UNAVAILABLE (gRPC reports every connection failure so; the message names the
// handshake or the closed socket), the server sees nothing but gRPC's own log line. The
// UNAUTHENTICATED the issue asks for is returned where ferry controls it: by
// PrincipalOf (auth/principal.h) for a verified certificate without a usable ferry
// identity.
//
// Unsafe mode: TlsConfig::insecure_plaintext_unsafe makes both functions return
// plaintext (insecure) credentials and ignore the files; ServerCredentials logs a
// WARNING naming --insecure_plaintext_unsafe each time. Both ends must agree: a
// plaintext client cannot talk to a TLS server and vice versa (UNAVAILABLE).
//
// Ownership: create the credentials once per process and role (one server credentials
// per server, one channel credentials shared by all channels of a process): each call
// starts one file-watcher thread in gRPC that lives as long as the credentials.
//
// Failure: a missing, unreadable or unparsable file, or a key that does not match its
// certificate, is reported at creation (INVALID_ARGUMENT, or NOT_FOUND /
// PERMISSION_DENIED from the file system) with the flag and the path in the message.
// Thread safety: the functions may be called from any thread; the returned credentials
// are thread-safe.
#ifndef FERRY_AUTH_TLS_H_
#define FERRY_AUTH_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace ferry::auth {

// PEM files. `ca` holds the CA certificate(s) peers must be signed by; `cert` the
// process's certificate chain (leaf first); `key` its private key.
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

struct TlsConfig {
  TlsFiles files;
  // How often the files are re-read. gRPC counts whole seconds: rounded up, at least 1.
  absl::Duration reload_interval = absl::Seconds(60);
  // Plaintext, no authentication: tests and debugging only (see the contract above).
  bool insecure_plaintext_unsafe = false;
};

// The flag of each file, for messages: "--tls_ca", "--tls_cert", "--tls_key".
inline constexpr char kCaFlag[] = "--tls_ca";
inline constexpr char kCertFlag[] = "--tls_cert";
inline constexpr char kKeyFlag[] = "--tls_key";
inline constexpr char kInsecureFlag[] = "--insecure_plaintext_unsafe";

// Checks that the three files exist and parse (at least one CA certificate, a
// certificate, a private key matching it). Both functions below call it.
absl::Status ValidateTlsFiles(const TlsFiles& files);

// Credentials for a server: TLS that requires and verifies a client certificate signed
// by `files.ca`.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsConfig& config);

// Credentials for a client: TLS presenting `files.cert`, verifying the server's
// certificate against `files.ca` and its name against the dialled host.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsConfig& config);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_TLS_H_
