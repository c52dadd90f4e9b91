// The CLI over a real mTLS channel (MakeChannel, certificates from tools/gen-certs.sh) to
// an in-process fake CopyService on 127.0.0.1: checks what mocks cannot, i.e. real
// streaming, cancellation of a finished WatchTransfer stream, deadlines, retries and
// refused handshakes on the wire.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "auth/test_certs.h"
#include "auth/tls.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/copy_service.grpc.pb.h"
#include "tools/ferry/channel.h"
#include "tools/ferry/cli.h"

namespace ferry::cli {
namespace {

using ferry::v1::Transfer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Fails the first CreateTransfer with UNAVAILABLE, then accepts; streams RUNNING and a
// final state; keeps the stream open after it (a slow server) to check the client does
// not wait for the close.
class FakeCopyService : public ferry::v1::CopyService::Service {
 public:
  explicit FakeCopyService(ferry::v1::TransferState final_state) : final_state_(final_state) {}

  grpc::Status CreateTransfer(grpc::ServerContext*,
                              const ferry::v1::CreateTransferRequest* request,
                              Transfer* reply) override {
    absl::MutexLock lock(&mutex_);
    request_ids_.push_back(request->request_id());
    if (request_ids_.size() == 1)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "warming up");
    *reply = Make(ferry::v1::TRANSFER_STATE_PENDING);
    return grpc::Status::OK;
  }

  grpc::Status GetTransfer(grpc::ServerContext*, const ferry::v1::GetTransferRequest* request,
                           Transfer* reply) override {
    if (request->id() != "t-1")
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such transfer");
    *reply = Make(final_state_);
    return grpc::Status::OK;
  }

  grpc::Status WatchTransfer(grpc::ServerContext* context,
                             const ferry::v1::WatchTransferRequest* request,
                             grpc::ServerWriter<ferry::v1::TransferEvent>* writer) override {
    ferry::v1::TransferEvent event;
    *event.mutable_transfer() = Make(ferry::v1::TRANSFER_STATE_RUNNING);
    writer->Write(event);
    *event.mutable_transfer() = Make(final_state_);
    writer->Write(event);
    while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
    return grpc::Status::OK;
  }

  std::vector<std::string> request_ids() {
    absl::MutexLock lock(&mutex_);
    return request_ids_;
  }

 private:
  Transfer Make(ferry::v1::TransferState state) {
    Transfer t;
    t.set_id("t-1");
    t.set_state(state);
    t.mutable_source()->set_cluster("local");
    t.mutable_source()->set_path("/a");
    t.add_destinations()->set_cluster("local");
    t.mutable_destinations(0)->set_path("/b");
    t.mutable_progress()->set_files_done(2);
    t.mutable_progress()->set_bytes_done(2048);
    return t;
  }

  const ferry::v1::TransferState final_state_;
  absl::Mutex mutex_;
  std::vector<std::string> request_ids_ ABSL_GUARDED_BY(mutex_);
};

class CliGrpcTest : public ::testing::Test {
 protected:
  // The controller's and alice's certificates, and mallory's from another CA.
  static void SetUpTestSuite() {
    certs_ = new std::string(absl::StrCat(getenv("TEST_TMPDIR"), "/certs"));
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{{"--cluster", "local", "--user", "alice"},
                                               {"--user", "mallory", "--other-ca"}}) {
      absl::Status generated = auth::GenerateTestCerts(*certs_, args);
      ASSERT_TRUE(generated.ok()) << generated;
    }
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  // The CLI's certificate flags for gen-certs.sh's `name`.
  static std::vector<std::string> TlsFlags(absl::string_view name) {
    return {absl::StrCat("--tls_ca=", *certs_, "/ca.pem"),
            absl::StrCat("--tls_cert=", *certs_, "/", name, ".pem"),
            absl::StrCat("--tls_key=", *certs_, "/", name, ".key")};
  }

  void Start(ferry::v1::TransferState final_state) {
    service_ = std::make_unique<FakeCopyService>(final_state);
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        auth::ServerCredentials(auth::TestTlsConfig(*certs_, "local-controller"));
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Runs the CLI as `user` (gen-certs.sh's name of a certificate).
  int Run(std::vector<std::string> args, absl::string_view user = "user-alice") {
    CliEnvironment environment;
    environment.out = &out_;
    environment.err = &err_;
    environment.clock = &clock_;
    environment.controller_from_env = address_;
    environment.connect = [this](const std::string& address, const auth::TlsConfig& tls)
        -> absl::StatusOr<ferry::v1::CopyService::StubInterface*> {
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address, tls);
      if (!channel.ok()) return channel.status();
      stub_ = ferry::v1::CopyService::NewStub(*channel);
      return stub_.get();
    };
    std::vector<std::string> flags = TlsFlags(user);
    args.insert(args.begin(), flags.begin(), flags.end());
    return Cli(environment).Run(args);
  }

  static std::string* certs_;
  ferry::RealClock clock_;
  std::unique_ptr<FakeCopyService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<ferry::v1::CopyService::Stub> stub_;
  std::string address_;
  std::ostringstream out_;
  std::ostringstream err_;
};

std::string* CliGrpcTest::certs_ = nullptr;

TEST_F(CliGrpcTest, CpRetriesThenWatchesToTheEnd) {
  Start(ferry::v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Run({"cp", "--timeout=20s", "local:/a", "local:/b"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              StartsWith("SUCCEEDED t-1 local:/a -> local:/b: 2 files, 2.0 KiB in"));
  const std::vector<std::string> ids = service_->request_ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids[1]);
}

TEST_F(CliGrpcTest, CpFailedTransferExitsOne) {
  Start(ferry::v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(Run({"cp", "--timeout=20s", "local:/a", "local:/b"}), kExitFailure);
  EXPECT_THAT(out_.str(), StartsWith("FAILED t-1 "));
}

TEST_F(CliGrpcTest, StatusOverTheWire) {
  Start(ferry::v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Run({"status", "t-1"}), kExitOk);
  EXPECT_THAT(out_.str(), StartsWith("t-1  SUCCEEDED\n"));
  EXPECT_EQ(Run({"status", "t-2"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("NOT_FOUND: no such transfer"));
}

// The controller refuses a certificate of another CA in the handshake: no retries for a
// minute, a hint naming the certificate flags, and nothing reached the service.
TEST_F(CliGrpcTest, CertificateOfAnotherCaGetsAHintAtOnce) {
  Start(ferry::v1::TRANSFER_STATE_SUCCEEDED);
  const absl::Time start = absl::Now();
  EXPECT_EQ(Run({"cp", "local:/a", "local:/b"}, "user-mallory-other-ca"), kExitFailure);
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_THAT(err_.str(), HasSubstr("CreateTransfer failed: UNAVAILABLE"));
  EXPECT_THAT(err_.str(), HasSubstr("the TLS handshake with the controller failed: check "
                                    "--tls_ca, --tls_cert and --tls_key"));
  EXPECT_TRUE(service_->request_ids().empty());
}

TEST_F(CliGrpcTest, MissingCertificateFileIsNamedWithItsFlag) {
  Start(ferry::v1::TRANSFER_STATE_SUCCEEDED);
  EXPECT_EQ(Run({"status", "t-1"}, "user-nobody"), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--tls_cert"));
  EXPECT_THAT(err_.str(), HasSubstr("user-nobody.pem"));
}

TEST_F(CliGrpcTest, UnreachableControllerNamesTheCode) {
  address_ = "127.0.0.1:1";  // Nothing listens on port 1.
  EXPECT_EQ(Run({"cp", "--timeout=1s", "local:/a", "local:/b"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("CreateTransfer failed: UNAVAILABLE"));
}

}  // namespace
}  // namespace ferry::cli
