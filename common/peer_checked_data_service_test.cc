// PeerCheckedDataService on a real mTLS server (certificates from tools/gen-certs.sh)
// in front of a fake DataService that counts the calls reaching it.
#include "common/peer_checked_data_service.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/test_certs.h"
#include "auth/tls.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

// Ends each stream at once (no message) and answers Stat with the path asked.
class FakeDataService final : public v1::DataService::CallbackService {
 public:
  grpc::ServerWriteReactor<v1::DataBlock>* ReadChunk(
      grpc::CallbackServerContext* /*context*/, const v1::ReadChunkRequest* /*request*/) override {
    calls_.fetch_add(1);
    return new EmptyStream<v1::DataBlock>();
  }
  grpc::ServerWriteReactor<v1::DataBlock>* ReadFiles(
      grpc::CallbackServerContext* /*context*/, const v1::ReadFilesRequest* /*request*/) override {
    calls_.fetch_add(1);
    return new EmptyStream<v1::DataBlock>();
  }
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* context,
                                 const v1::StatRequest* request, v1::FileInfo* response) override {
    calls_.fetch_add(1);
    response->set_path(request->path());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerWriteReactor<v1::ListResponse>* List(grpc::CallbackServerContext* /*context*/,
                                                   const v1::ListRequest* /*request*/) override {
    calls_.fetch_add(1);
    return new EmptyStream<v1::ListResponse>();
  }
  int calls() const { return calls_.load(); }

 private:
  template <typename Message>
  class EmptyStream final : public grpc::ServerWriteReactor<Message> {
   public:
    EmptyStream() { this->Finish(grpc::Status::OK); }
    void OnDone() override { delete this; }
  };

  std::atomic<int> calls_{0};
};

class PeerCheckedDataServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(absl::StrCat(getenv("TEST_TMPDIR"), "/certs"));
    absl::Status generated = auth::GenerateTestCerts(
        *certs_,
        {"--cluster", "a", "--cluster", "b", "--user", "alice", "--no-ferry-uri", "plain"});
    ASSERT_TRUE(generated.ok()) << generated;
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  static auth::TlsConfig Config(absl::string_view name) {
    return auth::TestTlsConfig(*certs_, name);
  }
  static auth::TlsConfig Plaintext() {
    auth::TlsConfig config;
    config.insecure_plaintext_unsafe = true;
    return config;
  }

  void Serve(const auth::TlsConfig& config) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        auth::ServerCredentials(config);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(&checked_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  // The codes of Stat, List, ReadChunk and ReadFiles, in that order, called as `config`.
  std::vector<grpc::StatusCode> CallAll(const auth::TlsConfig& config) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        auth::ChannelCredentials(config);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return {};
    std::unique_ptr<v1::DataService::Stub> stub = v1::DataService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), *credentials));
    std::vector<grpc::StatusCode> codes;
    {
      grpc::ClientContext context;
      SetDeadline(context);
      v1::StatRequest request;
      request.set_path("/x");
      v1::FileInfo info;
      const grpc::Status status = stub->Stat(&context, request, &info);
      codes.push_back(status.error_code());
      stat_message_ = status.error_message();
    }
    {
      grpc::ClientContext context;
      SetDeadline(context);
      auto reader = stub->List(&context, v1::ListRequest());
      v1::ListResponse page;
      while (reader->Read(&page)) {
      }
      codes.push_back(reader->Finish().error_code());
    }
    {
      grpc::ClientContext context;
      SetDeadline(context);
      auto reader = stub->ReadChunk(&context, v1::ReadChunkRequest());
      v1::DataBlock block;
      while (reader->Read(&block)) {
      }
      codes.push_back(reader->Finish().error_code());
    }
    {
      grpc::ClientContext context;
      SetDeadline(context);
      auto reader = stub->ReadFiles(&context, v1::ReadFilesRequest());
      v1::DataBlock block;
      while (reader->Read(&block)) {
      }
      codes.push_back(reader->Finish().error_code());
    }
    return codes;
  }

  static void SetDeadline(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  }

  static std::string* certs_;
  FakeDataService fake_;
  PeerCheckedDataService checked_{&fake_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::string stat_message_;
};

std::string* PeerCheckedDataServiceTest::certs_ = nullptr;

using Codes = std::vector<grpc::StatusCode>;

TEST_F(PeerCheckedDataServiceTest, ProcessesOfAnyClusterGetThrough) {
  ASSERT_NO_FATAL_FAILURE(Serve(Config("a-copyd")));
  const Codes ok(4, grpc::StatusCode::OK);
  EXPECT_EQ(CallAll(Config("b-controller")), ok);
  EXPECT_EQ(CallAll(Config("b-copyd")), ok);
  EXPECT_EQ(CallAll(Config("a-controller")), ok);
  EXPECT_EQ(fake_.calls(), 12);
}

TEST_F(PeerCheckedDataServiceTest, UserIsDeniedBeforeTheServiceRuns) {
  ASSERT_NO_FATAL_FAILURE(Serve(Config("a-copyd")));
  EXPECT_EQ(CallAll(Config("user-alice")), Codes(4, grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_TRUE(absl::StrContains(stat_message_, "the caller is ferry://user/alice"))
      << stat_message_;
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(PeerCheckedDataServiceTest, CertificateWithoutFerryIdentityIsUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(Serve(Config("a-copyd")));
  EXPECT_EQ(CallAll(Config("plain")), Codes(4, grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(PeerCheckedDataServiceTest, UnsafePlaintextSkipsTheCheck) {
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext()));
  EXPECT_EQ(CallAll(Plaintext()), Codes(4, grpc::StatusCode::OK));
  EXPECT_EQ(fake_.calls(), 4);
}

TEST(PeerCheckedDataServiceMethodsTest, EveryDataServiceMethodIsForwarded) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("ferry.v1.DataService");
  ASSERT_NE(service, nullptr);
  // ReadChunk, Stat and List. A new method needs a forwarding override (and this count).
  EXPECT_EQ(service->method_count(), 4);
}

}  // namespace
}  // namespace ferry
