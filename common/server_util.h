// What every ferry server does the same way: credentials from the shared TLS flags,
// listen, announce its port, serve health and reflection.
//
// Credentials: every daemon (controller, copyd, bwbroker) calls DaemonCredentialsFromFlags
// once after parsing its flags and uses the result for its server and all its channels
// (auth/tls.h: one set per process, each starts a file-watcher thread). mTLS is the
// default: a daemon started with neither the three --tls_* files nor
// --insecure_plaintext_unsafe gets INVALID_ARGUMENT naming the flags and must exit.
// AddListeningPort takes the server credentials from the caller; there is no plaintext
// default (the three-argument overload below is a transition for bwbroker only).
//
// Servers bind the address from --listen (tests use 127.0.0.1:0 and let the kernel
// choose), then write the bound port to --port_file atomically (write to a temporary
// file, fsync, rename) so a harness polling for the file never reads half a number.
// The gRPC health service (grpc.health.v1) and server reflection are enabled on every
// server through ConfigureCommonServerOptions, called before the ServerBuilder exists.
//
// Thread safety: call from main's thread during startup.
#ifndef FERRY_COMMON_SERVER_UTIL_H_
#define FERRY_COMMON_SERVER_UTIL_H_

#include <memory>
#include <string>

#include "absl/base/macros.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace ferry {

// A daemon's credentials, made once: for its server and for every channel it opens
// to other ferry processes.
struct DaemonCredentials {
  std::shared_ptr<grpc::ServerCredentials> server;
  std::shared_ptr<grpc::ChannelCredentials> channel;
  // --insecure_plaintext_unsafe: both are plaintext and every peer is ferry://anonymous.
  bool insecure_plaintext_unsafe = false;
};

// Reads --tls_ca, --tls_cert, --tls_key, --tls_reload_interval and
// --insecure_plaintext_unsafe (auth/credentials_flags.h). INVALID_ARGUMENT naming the
// missing flags when a file flag is empty without --insecure_plaintext_unsafe; the
// errors of auth::ServerCredentials / ChannelCredentials (unreadable or mismatched
// files, naming the flag and the path) otherwise.
absl::StatusOr<DaemonCredentials> DaemonCredentialsFromFlags();

// Enables the default health service and the reflection plugin. Must run before the
// first ServerBuilder is created (gRPC reads both settings at construction).
void ConfigureCommonServerOptions();

// Applies ferry's builder options (message sizes) and adds a listening port on
// `address` secured by `credentials` (DaemonCredentials::server, or in tests
// auth::ServerCredentials), recording the bound port in `*bound_port` once started.
void AddListeningPort(grpc::ServerBuilder& builder, const std::string& address,
                      std::shared_ptr<grpc::ServerCredentials> credentials, int* bound_port);

// Plaintext. Only for bwbroker until its main takes DaemonCredentialsFromFlags like the
// controller and copyd do; to be removed then.
ABSL_DEPRECATED("pass DaemonCredentials::server")
void AddListeningPort(grpc::ServerBuilder& builder, const std::string& address,
                      int* bound_port);

// Starts the server; FAILED_PRECONDITION if it could not bind (port 0 after start).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(grpc::ServerBuilder& builder,
                                                          const int* bound_port,
                                                          const std::string& address);

// Writes "<port>\n" to `path` atomically. No-op for an empty path.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace ferry

#endif  // FERRY_COMMON_SERVER_UTIL_H_
