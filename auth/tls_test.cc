// Real gRPC servers on 127.0.0.1:0 with the credentials of auth/tls.h, certificates
// from tools/gen-certs.sh: who gets through the handshake, what PrincipalOf sees on
// both ends, rotation of the files under a running server, and the unsafe mode.
#include "auth/tls.h"

#include <stdio.h>
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/principal.h"
#include "auth/test_certs.h"
#include "common/grpc_status.h"
#include "glog/logging.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "tests/harness/process_harness.h"

namespace ferry::auth {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr char kPrincipalHeader[] = "ferry-principal";

// Health/Check answering SERVING with the caller's principal in the initial metadata,
// or PrincipalOf's error. Counts the calls that reached it.
class PrincipalEchoService : public Health::CallbackService {
 public:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const HealthCheckRequest* /*request*/,
                                  HealthCheckResponse* response) override {
    calls_.fetch_add(1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<std::string> principal = PrincipalOf(*context);
    if (!principal.ok()) {
      reactor->Finish(ToGrpcStatus(principal.status()));
      return reactor;
    }
    context->AddInitialMetadata(kPrincipalHeader, *principal);
    response->set_status(HealthCheckResponse::SERVING);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
};

class TestServer {
 public:
  // Not started (started() false) without credentials.
  explicit TestServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    if (credentials == nullptr) return;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }
  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int calls() const { return service_.calls(); }

 private:
  PrincipalEchoService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

struct CallResult {
  grpc::Status status;
  std::string client_principal;  // as the server saw it
  absl::StatusOr<std::string> server_principal = absl::UnknownError("no call");
};

// One Health/Check on a fresh connection: the local subchannel pool keeps gRPC from
// reusing a connection another channel opened with older certificates.
CallResult Call(const std::string& address,
                const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::unique_ptr<Health::Stub> stub =
      Health::NewStub(grpc::CreateCustomChannel(address, credentials, args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckResponse response;
  CallResult result;
  result.status = stub->Check(&context, HealthCheckRequest(), &response);
  if (result.status.ok()) {
    auto header = context.GetServerInitialMetadata().find(kPrincipalHeader);
    if (header != context.GetServerInitialMetadata().end()) {
      result.client_principal.assign(header->second.data(), header->second.size());
    }
    result.server_principal = PrincipalOf(*context.auth_context());
  }
  return result;
}

// Collects WARNING lines for the unsafe-mode test.
class WarningSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char* /*full_filename*/,
            const char* /*base_filename*/, int /*line*/, const struct ::tm* /*tm_time*/,
            const char* message, size_t message_len) override {
    if (severity != google::GLOG_WARNING) return;
    absl::MutexLock lock(&mu_);
    lines_.emplace_back(message, message_len);
  }
  std::vector<std::string> lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

absl::Status CopyFile(const std::string& from, const std::string& to) {
  absl::StatusOr<std::string> text = harness::ReadFile(from);
  if (!text.ok()) return text.status();
  const std::string temp = to + ".new";
  FILE* out = fopen(temp.c_str(), "w");
  if (out == nullptr) return absl::InternalError(absl::StrCat("fopen ", temp));
  const bool written = fwrite(text->data(), 1, text->size(), out) == text->size();
  if (fclose(out) != 0 || !written) return absl::InternalError(absl::StrCat("write ", temp));
  if (rename(temp.c_str(), to.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", temp));
  }
  return absl::OkStatus();
}

// What a rotation does: a certificate and key of the same CA replace the watched files
// (each through a rename, key first).
absl::Status InstallIdentity(const std::string& dir, const std::string& name,
                             const TlsFiles& watched) {
  absl::Status status = CopyFile(absl::StrCat(dir, "/", name, ".key"), watched.key);
  if (!status.ok()) return status;
  return CopyFile(absl::StrCat(dir, "/", name, ".pem"), watched.cert);
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<harness::TempDir> dir = harness::TempDir::Create("certs");
    ASSERT_TRUE(dir.ok()) << dir.status();
    certs_ = new harness::TempDir(std::move(*dir));
    const std::string& path = certs_->path();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--cluster", "a", "--user", "alice", "--user", "bob"},
             {"--user", "alice", "--expired"},
             {"--user", "alice", "--cluster", "a", "--other-ca"},
             {"--no-ferry-uri", "plain"}}) {
      absl::Status status = GenerateTestCerts(path, args);
      ASSERT_TRUE(status.ok()) << status;
    }
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  static std::string Path(absl::string_view file) { return certs_->Join(file); }

  static std::shared_ptr<grpc::ServerCredentials> ServerCreds(const TlsConfig& config) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(config);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? *creds : nullptr;
  }
  static std::shared_ptr<grpc::ChannelCredentials> ClientCreds(const TlsConfig& config) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = ChannelCredentials(config);
    EXPECT_TRUE(creds.ok()) << creds.status();
    return creds.ok() ? *creds : nullptr;
  }
  static std::shared_ptr<grpc::ServerCredentials> ServerCreds(absl::string_view name) {
    return ServerCreds(TestTlsConfig(certs_->path(), name));
  }
  static std::shared_ptr<grpc::ChannelCredentials> ClientCreds(absl::string_view name) {
    return ClientCreds(TestTlsConfig(certs_->path(), name));
  }

  static harness::TempDir* certs_;
};

harness::TempDir* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, MutualTlsIdentifiesBothEnds) {
  TestServer server(ServerCreds("a-controller"));
  ASSERT_TRUE(server.started());
  CallResult result = Call(server.address(), ClientCreds("user-alice"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.client_principal, "ferry://user/alice");
  ASSERT_TRUE(result.server_principal.ok()) << result.server_principal.status();
  EXPECT_EQ(*result.server_principal, "ferry://cluster/a/controller");
}

TEST_F(TlsTest, LocalhostNameIsVerifiedToo) {
  TestServer server(ServerCreds("a-copyd"));
  ASSERT_TRUE(server.started());
  const std::string port = server.address().substr(server.address().rfind(':'));
  CallResult result = Call("localhost" + port, ClientCreds("a-controller"));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.client_principal, "ferry://cluster/a/controller");
}

// The denial table: none of these gets through the handshake, so no handler runs.
// gRPC reports a failed handshake to the client as UNAVAILABLE (see auth/tls.h).
TEST_F(TlsTest, HandshakeRefusals) {
  absl::StatusOr<std::string> ca = harness::ReadFile(Path("ca.pem"));
  ASSERT_TRUE(ca.ok()) << ca.status();
  grpc::SslCredentialsOptions trust_only;  // verifies the server, presents nothing
  trust_only.pem_root_certs = *ca;
  const struct {
    const char* why;
    const char* server;
    std::shared_ptr<grpc::ChannelCredentials> client;
  } cases[] = {
      {"client without a certificate", "a-controller", grpc::SslCredentials(trust_only)},
      {"client certificate from another CA", "a-controller",
       ClientCreds("user-alice-other-ca")},
      {"expired client certificate", "a-controller", ClientCreds("user-alice-expired")},
      {"server certificate from another CA", "a-controller-other-ca",
       ClientCreds("user-alice")},
      {"plaintext client of a TLS server", "a-controller",
       grpc::InsecureChannelCredentials()},
  };
  for (const auto& refusal : cases) {
    SCOPED_TRACE(refusal.why);
    TestServer server(ServerCreds(refusal.server));
    ASSERT_TRUE(server.started());
    CallResult result = Call(server.address(), refusal.client);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << result.status.error_message();
    EXPECT_EQ(server.calls(), 0);
  }
}

// A verified certificate that names nobody: the handshake succeeds, PrincipalOf refuses.
TEST_F(TlsTest, CertificateWithoutFerryUriIsUnauthenticated) {
  TestServer server(ServerCreds("a-controller"));
  ASSERT_TRUE(server.started());
  CallResult result = Call(server.address(), ClientCreds("plain"));
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << result.status.error_message();
  EXPECT_TRUE(absl::StrContains(result.status.error_message(), "no ferry:// URI"))
      << result.status.error_message();
  EXPECT_EQ(server.calls(), 1);
}

// Both ends watch their files: after a rotation, a new connection presents the new
// certificates, with no restart and the same credentials objects.
TEST_F(TlsTest, RotatedFilesAreUsedByNewConnections) {
  absl::StatusOr<harness::TempDir> live = harness::TempDir::Create("live");
  ASSERT_TRUE(live.ok()) << live.status();
  TlsConfig server_config = TestTlsConfig(certs_->path(), "a-controller");
  TlsConfig client_config = TestTlsConfig(certs_->path(), "user-alice");
  server_config.files.cert = live->Join("server.pem");
  server_config.files.key = live->Join("server.key");
  client_config.files.cert = live->Join("client.pem");
  client_config.files.key = live->Join("client.key");
  ASSERT_TRUE(InstallIdentity(certs_->path(), "a-controller", server_config.files).ok());
  ASSERT_TRUE(InstallIdentity(certs_->path(), "user-alice", client_config.files).ok());

  std::shared_ptr<grpc::ChannelCredentials> client_creds = ClientCreds(client_config);
  TestServer server(ServerCreds(server_config));
  ASSERT_TRUE(server.started());
  CallResult before = Call(server.address(), client_creds);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  EXPECT_EQ(before.client_principal, "ferry://user/alice");
  EXPECT_EQ(before.server_principal.value_or(""), "ferry://cluster/a/controller");

  ASSERT_TRUE(InstallIdentity(certs_->path(), "a-copyd", server_config.files).ok());
  ASSERT_TRUE(InstallIdentity(certs_->path(), "user-bob", client_config.files).ok());
  // The watchers re-read every second; poll with new connections until both saw it.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  CallResult after;
  do {
    after = Call(server.address(), client_creds);
  } while (!(after.status.ok() && after.client_principal == "ferry://user/bob" &&
             after.server_principal.value_or("") == "ferry://cluster/a/copyd") &&
           absl::Now() < deadline);
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.client_principal, "ferry://user/bob");
  EXPECT_EQ(after.server_principal.value_or(""), "ferry://cluster/a/copyd");
}

TEST_F(TlsTest, UnsafePlaintextWorksAndTheServerWarns) {
  WarningSink sink;
  google::AddLogSink(&sink);
  TlsConfig config;  // no files at all
  config.insecure_plaintext_unsafe = true;
  TestServer server(ServerCreds(config));
  google::RemoveLogSink(&sink);
  ASSERT_TRUE(server.started());
  std::vector<std::string> warnings = sink.lines();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(absl::StrContains(warnings[0], "--insecure_plaintext_unsafe")) << warnings[0];

  CallResult result = Call(server.address(), ClientCreds(config));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.client_principal, kAnonymousPrincipal);
  EXPECT_EQ(result.server_principal.value_or(""), kAnonymousPrincipal);
}

TEST_F(TlsTest, GenCertsKeepsWhatItMadeAndKeysPrivate) {
  absl::StatusOr<std::string> ca = harness::ReadFile(Path("ca.pem"));
  absl::StatusOr<std::string> cert = harness::ReadFile(Path("a-copyd.pem"));
  ASSERT_TRUE(ca.ok() && cert.ok());
  absl::Status again = GenerateTestCerts(certs_->path(), {"--cluster", "a"});
  ASSERT_TRUE(again.ok()) << again;
  EXPECT_EQ(harness::ReadFile(Path("ca.pem")).value_or(""), *ca);
  EXPECT_EQ(harness::ReadFile(Path("a-copyd.pem")).value_or(""), *cert);
  for (const char* key : {"ca.key", "a-copyd.key", "user-alice-expired.key"}) {
    struct stat info;
    ASSERT_EQ(stat(Path(key).c_str(), &info), 0) << key;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << key;
  }
}

TEST_F(TlsTest, MissingFileIsNamedWithItsFlag) {
  TlsConfig config = TestTlsConfig(certs_->path(), "user-alice");
  config.files.cert = Path("nonexistent.pem");
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = ChannelCredentials(config);
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kNotFound) << creds.status();
  EXPECT_TRUE(absl::StrContains(creds.status().message(), "--tls_cert")) << creds.status();
  EXPECT_TRUE(absl::StrContains(creds.status().message(), "nonexistent.pem"))
      << creds.status();
}

TEST_F(TlsTest, EmptyPathAsksForTheFlag) {
  TlsConfig config = TestTlsConfig(certs_->path(), "a-copyd");
  config.files.ca.clear();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = ServerCredentials(config);
  ASSERT_FALSE(creds.ok());
  EXPECT_EQ(creds.status().code(), absl::StatusCode::kInvalidArgument) << creds.status();
  EXPECT_TRUE(absl::StrContains(creds.status().message(), "--tls_ca is required"))
      << creds.status();
}

TEST_F(TlsTest, KeyOfAnotherCertificateIsRefused) {
  TlsConfig config = TestTlsConfig(certs_->path(), "a-copyd");
  config.files.key = Path("user-alice.key");
  absl::Status status = ValidateTlsFiles(config.files);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "is not the key of")) << status;
}

TEST_F(TlsTest, FileThatIsNotPemIsRefused) {
  TlsConfig config = TestTlsConfig(certs_->path(), "a-copyd");
  config.files.ca = Path("a-copyd.key");  // a key where a certificate belongs
  absl::Status status = ValidateTlsFiles(config.files);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "--tls_ca")) << status;
}

}  // namespace
}  // namespace ferry::auth
