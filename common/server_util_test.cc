#include "common/server_util.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/credentials_flags.h"
#include "auth/test_certs.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"

namespace ferry {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TestTmpDir() { return std::string(getenv("TEST_TMPDIR")); }

// Points the shared TLS flags at gen-certs.sh's files for `name` in `dir`.
void SetTlsFlags(const std::string& dir, const std::string& name) {
  absl::SetFlag(&FLAGS_tls_ca, dir + "/ca.pem");
  absl::SetFlag(&FLAGS_tls_cert, absl::StrCat(dir, "/", name, ".pem"));
  absl::SetFlag(&FLAGS_tls_key, absl::StrCat(dir, "/", name, ".key"));
}

grpc::Status HealthCheck(const std::string& address,
                         std::shared_ptr<grpc::ChannelCredentials> credentials) {
  std::unique_ptr<grpc::health::v1::Health::Stub> stub =
      grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
}

// A server with only the health service, as every ferry server has, on 127.0.0.1:0.
struct HealthServer {
  explicit HealthServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    ConfigureCommonServerOptions();
    grpc::ServerBuilder builder;
    AddListeningPort(builder, "127.0.0.1:0", std::move(credentials), &port);
    absl::StatusOr<std::unique_ptr<grpc::Server>> started =
        StartServer(builder, &port, "127.0.0.1:0");
    status = started.status();
    if (started.ok()) server = *std::move(started);
  }
  ~HealthServer() {
    if (server != nullptr) server->Shutdown();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port); }

  int port = 0;
  absl::Status status;
  std::unique_ptr<grpc::Server> server;
};

TEST(ServerUtilTest, ServesHealthOverMutualTlsAndWritesPortFile) {
  absl::FlagSaver restore_flags;
  const std::string certs = TestTmpDir() + "/certs";
  absl::Status generated = auth::GenerateTestCerts(certs, {"--cluster", "a"});
  ASSERT_TRUE(generated.ok()) << generated;
  SetTlsFlags(certs, "a-controller");
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_FALSE(credentials->insecure_plaintext_unsafe);

  HealthServer server(credentials->server);
  ASSERT_TRUE(server.status.ok()) << server.status;
  EXPECT_GT(server.port, 0);
  grpc::Status tls = HealthCheck(server.address(), credentials->channel);
  EXPECT_TRUE(tls.ok()) << tls.error_message();
  // No plaintext default: a plaintext client is refused in the handshake.
  EXPECT_EQ(HealthCheck(server.address(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  const std::string path = TestTmpDir() + "/server.port";
  ASSERT_TRUE(WritePortFile(path, server.port).ok());
  EXPECT_EQ(ReadAll(path), std::to_string(server.port) + "\n");
}

TEST(ServerUtilTest, DaemonWithoutTlsFlagsIsToldWhichToGive) {
  absl::FlagSaver restore_flags;
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* flag :
       {"missing --tls_ca, --tls_cert, --tls_key:", "--insecure_plaintext_unsafe"}) {
    EXPECT_TRUE(absl::StrContains(credentials.status().message(), flag)) << credentials.status();
  }
}

TEST(ServerUtilTest, OneMissingFileIsNamed) {
  absl::FlagSaver restore_flags;
  SetTlsFlags(TestTmpDir(), "whatever");
  absl::SetFlag(&FLAGS_tls_key, "");
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  ASSERT_FALSE(credentials.ok());
  EXPECT_TRUE(absl::StrContains(credentials.status().message(), "missing --tls_key:"))
      << credentials.status();
}

TEST(ServerUtilTest, UnreadableFileIsNamedWithItsFlag) {
  absl::FlagSaver restore_flags;
  SetTlsFlags(TestTmpDir() + "/nonexistent", "a-copyd");
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kNotFound) << credentials.status();
  EXPECT_TRUE(absl::StrContains(credentials.status().message(), "--tls_ca"))
      << credentials.status();
}

TEST(ServerUtilTest, UnsafePlaintextNeedsNoFiles) {
  absl::FlagSaver restore_flags;
  absl::SetFlag(&FLAGS_insecure_plaintext_unsafe, true);
  absl::StatusOr<DaemonCredentials> credentials = DaemonCredentialsFromFlags();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_TRUE(credentials->insecure_plaintext_unsafe);

  HealthServer server(credentials->server);
  ASSERT_TRUE(server.status.ok()) << server.status;
  grpc::Status plaintext = HealthCheck(server.address(), credentials->channel);
  EXPECT_TRUE(plaintext.ok()) << plaintext.error_message();
}

TEST(ServerUtilTest, PortFileInMissingDirectoryFails) {
  EXPECT_FALSE(WritePortFile("/nonexistent-dir/x.port", 1).ok());
}

}  // namespace
}  // namespace ferry
