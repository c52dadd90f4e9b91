#include "common/server_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"

namespace ferry {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

void ConfigureCommonServerOptions() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void AddListeningPort(grpc::ServerBuilder& builder, const std::string& address,
                      int* bound_port) {
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Plaintext until the auth issue brings mTLS to every channel.
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), bound_port);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(grpc::ServerBuilder& builder,
                                                          const int* bound_port,
                                                          const std::string& address) {
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *bound_port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", address, " (address in use or invalid)"));
  }
  return server;
}

absl::Status WritePortFile(const std::string& path, int port) {
  if (path.empty()) return absl::OkStatus();
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", temp);
  const std::string text = absl::StrCat(port, "\n");
  const bool written = write(fd, text.data(), text.size()) ==
                       static_cast<ssize_t>(text.size());
  const bool synced = written && fsync(fd) == 0;
  const int saved_errno = errno;
  close(fd);
  errno = saved_errno;
  if (!written || !synced) return ErrnoStatus("write", temp);
  if (rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename to", path);
  return absl::OkStatus();
}

}  // namespace ferry
