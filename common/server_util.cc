#include "common/server_util.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auth/credentials_flags.h"
#include "auth/tls.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "storage/posix_file_system.h"

namespace ferry {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

// Names every empty file flag at once: a daemon started without any is the common case.
absl::Status RequireTlsFiles(const auth::TlsFiles& files) {
  std::vector<const char*> missing;
  if (files.ca.empty()) missing.push_back(auth::kCaFlag);
  if (files.cert.empty()) missing.push_back(auth::kCertFlag);
  if (files.key.empty()) missing.push_back(auth::kKeyFlag);
  if (missing.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "missing ", absl::StrJoin(missing, ", "), ": ferry daemons use mTLS by default and need ",
      auth::kCaFlag, ", ", auth::kCertFlag, " and ", auth::kKeyFlag,
      " (tools/gen-certs.sh makes the files); ", auth::kInsecureFlag,
      " turns it off (plaintext, no authentication: tests and debugging only)"));
}

}  // namespace

absl::StatusOr<DaemonCredentials> DaemonCredentialsFromFlags() {
  absl::StatusOr<auth::TlsConfig> config = auth::TlsConfigFromFlags();
  if (!config.ok()) return config.status();
  if (!config->insecure_plaintext_unsafe) {
    if (absl::Status missing = RequireTlsFiles(config->files); !missing.ok()) return missing;
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> server =
      auth::ServerCredentials(*config);
  if (!server.ok()) return server.status();
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> channel =
      auth::ChannelCredentials(*config);
  if (!channel.ok()) return channel.status();
  DaemonCredentials credentials;
  credentials.server = *std::move(server);
  credentials.channel = *std::move(channel);
  credentials.insecure_plaintext_unsafe = config->insecure_plaintext_unsafe;
  return credentials;
}

void ConfigureCommonServerOptions() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
}

void AddListeningPort(grpc::ServerBuilder& builder, const std::string& address,
                      std::shared_ptr<grpc::ServerCredentials> credentials, int* bound_port) {
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.AddListeningPort(address, std::move(credentials), bound_port);
}

void AddListeningPort(grpc::ServerBuilder& builder, const std::string& address,
                      int* bound_port) {
  AddListeningPort(builder, address, grpc::InsecureServerCredentials(), bound_port);
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
  // Through storage/ like every other file ferry writes: a temporary file beside the
  // target, fsync, atomic rename, fsync of the directory.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  absl::StatusOr<std::unique_ptr<storage::FileSystem>> fs = storage::NewPosixFileSystem(dir);
  if (!fs.ok()) return fs.status();
  absl::StatusOr<storage::TempFile> temp = (*fs)->CreateTemp(name);
  if (!temp.ok()) return temp.status();
  absl::Status status = temp->file->WriteAt(0, absl::StrCat(port, "\n"));
  if (status.ok()) status = temp->file->Sync();
  if (absl::Status closed = temp->file->Close(); status.ok()) status = closed;
  if (status.ok()) status = (*fs)->Rename(temp->path, name, storage::CommitMode::kReplace);
  if (!status.ok()) {
    (*fs)->Remove(temp->path).IgnoreError();
    return status;
  }
  return (*fs)->SyncDir("");
}

}  // namespace ferry
