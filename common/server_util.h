// What every ferry server does the same way: listen, announce its port, serve health
// and reflection.
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

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace ferry {

// Enables the default health service and the reflection plugin. Must run before the
// first ServerBuilder is created (gRPC reads both settings at construction).
void ConfigureCommonServerOptions();

// Applies ferry's builder options (message sizes) and adds an insecure listening port
// on `address`, recording the bound port in `*bound_port` once started.
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
