// The controller's services on a real mTLS server (certificates from tools/gen-certs.sh)
// over a real TransferManager: who may call which service, and whose transfers are made.
#include "controller/services.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/principal.h"
#include "auth/test_certs.h"
#include "auth/tls.h"
#include "controller/task_authorizer.h"
#include "controller/test_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"

namespace ferry::controller {
namespace {

using testing::kCluster;

class ServicesTest : public testing::ControllerTest {
 protected:
  static void SetUpTestSuite() {
    certs_ = new std::string(absl::StrCat(getenv("TEST_TMPDIR"), "/certs"));
    absl::Status generated =
        auth::GenerateTestCerts(*certs_, {"--cluster", kCluster, "--cluster", "other", "--user",
                                          "alice", "--no-ferry-uri", "plain"});
    ASSERT_TRUE(generated.ok()) << generated;
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  static auth::TlsConfig Identity(absl::string_view name) {
    return auth::TestTlsConfig(*certs_, name);
  }
  static auth::TlsConfig Plaintext() {
    auth::TlsConfig config;
    config.insecure_plaintext_unsafe = true;
    return config;
  }

  // Serves both services as `server_identity` (this cluster's controller by default).
  void Serve(const auth::TlsConfig& server_identity, LeaseWaitList* waits = nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        auth::ServerCredentials(server_identity);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    copy_service_ = std::make_unique<CopyServiceImpl>(manager_.get());
    worker_service_ = waits == nullptr
                          ? std::make_unique<WorkerServiceImpl>(manager_.get())
                          : std::make_unique<WorkerServiceImpl>(manager_.get(), waits, &clock_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(copy_service_.get());
    builder.RegisterService(worker_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }

  std::shared_ptr<grpc::Channel> ChannelAs(const auth::TlsConfig& identity) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        auth::ChannelCredentials(identity);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                               credentials.ok() ? *credentials : nullptr);
  }

  grpc::Status Create(const auth::TlsConfig& identity, v1::Transfer* transfer) {
    grpc::ClientContext context;
    SetDeadline(context);
    return v1::CopyService::NewStub(ChannelAs(identity))
        ->CreateTransfer(&context, testing::CopyRequest("r1", "/src", "/dst"), transfer);
  }

  grpc::Status Register(const auth::TlsConfig& identity) {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RegisterWorkerRequest request;
    request.set_worker_name("copyd-1");
    request.set_cluster(kCluster);
    request.set_data_address("127.0.0.1:7000");
    request.set_max_concurrent_tasks(1);
    v1::RegisterWorkerResponse response;
    return v1::WorkerService::NewStub(ChannelAs(identity))
        ->RegisterWorker(&context, request, &response);
  }

  // Every transfer the manager holds, whoever made it.
  std::vector<v1::Transfer> AllTransfers() {
    v1::ListTransfersRequest request;
    request.set_all_users(true);
    absl::StatusOr<v1::ListTransfersResponse> all = manager_->ListTransfers("", request);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return {};
    return {all->transfers().begin(), all->transfers().end()};
  }

  static void SetDeadline(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  }

  static std::string* certs_;
  std::unique_ptr<CopyServiceImpl> copy_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::string* ServicesTest::certs_ = nullptr;

TEST_F(ServicesTest, TransferBelongsToTheCallingUser) {
  ASSERT_NO_FATAL_FAILURE(Serve(Identity("local-controller")));
  v1::Transfer transfer;
  grpc::Status created = Create(Identity("user-alice"), &transfer);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(transfer.user(), "ferry://user/alice");

  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListTransfersResponse mine;
  grpc::Status listed = v1::CopyService::NewStub(ChannelAs(Identity("user-alice")))
                            ->ListTransfers(&context, v1::ListTransfersRequest(), &mine);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  ASSERT_EQ(mine.transfers_size(), 1);
  EXPECT_EQ(mine.transfers(0).id(), transfer.id());
}

TEST_F(ServicesTest, ProcessCannotCreateOrReadTransfers) {
  ASSERT_NO_FATAL_FAILURE(Serve(Identity("local-controller")));
  for (const char* process : {"local-copyd", "local-controller", "other-controller"}) {
    SCOPED_TRACE(process);
    v1::Transfer transfer;
    grpc::Status refused = Create(Identity(process), &transfer);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
    EXPECT_TRUE(absl::StrContains(refused.error_message(), "accepts only users"))
        << refused.error_message();

    grpc::ClientContext context;
    SetDeadline(context);
    v1::WatchTransferRequest request;
    request.set_id("t-0000000000000001");
    auto watch =
        v1::CopyService::NewStub(ChannelAs(Identity(process)))->WatchTransfer(&context, request);
    v1::TransferEvent event;
    EXPECT_FALSE(watch->Read(&event));
    EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_TRUE(AllTransfers().empty());
}

TEST_F(ServicesTest, CertificateWithoutFerryIdentityIsUnauthenticated) {
  ASSERT_NO_FATAL_FAILURE(Serve(Identity("local-controller")));
  v1::Transfer transfer;
  EXPECT_EQ(Create(Identity("plain"), &transfer).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Register(Identity("plain")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(AllTransfers().empty());
}

TEST_F(ServicesTest, WorkerServiceAcceptsOnlyThisClustersCopyds) {
  ASSERT_NO_FATAL_FAILURE(Serve(Identity("local-controller")));
  for (const char* stranger : {"other-copyd", "local-controller", "user-alice"}) {
    grpc::Status refused = Register(Identity(stranger));
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << stranger << ": " << refused.error_message();
  }
  grpc::Status own = Register(Identity("local-copyd"));
  EXPECT_TRUE(own.ok()) << own.error_message();
}

TEST_F(ServicesTest, UnsafePlaintextSkipsRoleChecksAndCallsEveryoneAnonymous) {
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext()));
  v1::Transfer transfer;
  grpc::Status created = Create(Plaintext(), &transfer);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(transfer.user(), auth::kAnonymousPrincipal);
  grpc::Status registered = Register(Plaintext());
  EXPECT_TRUE(registered.ok()) << registered.error_message();
}

// A LeaseTasks call of `worker` asking to be held `wait_ms`, run on its own thread.
class HeldLeaseCall {
 public:
  HeldLeaseCall(std::shared_ptr<grpc::Channel> channel, const std::string& worker,
                int wait_ms)
      : thread_([this, channel, worker, wait_ms] {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
          v1::LeaseTasksRequest request;
          request.set_worker_id(worker);
          request.set_max_tasks(1);
          request.set_wait_ms(wait_ms);
          status_ = v1::WorkerService::NewStub(channel)->LeaseTasks(&context, request,
                                                                     &response_);
        }) {}
  ~HeldLeaseCall() {
    if (thread_.joinable()) thread_.join();  // A test that failed before Answer().
  }
  // Waits for the answer.
  const v1::LeaseTasksResponse& Answer(grpc::Status* status) {
    thread_.join();
    *status = status_;
    return response_;
  }

 private:
  grpc::Status status_;
  v1::LeaseTasksResponse response_;
  std::thread thread_;
};

bool HeldWithin(const LeaseWaitList& waits, size_t calls) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (waits.held() != calls && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  return waits.held() == calls;
}

TEST_F(ServicesTest, AnIdleLeaseCallIsHeldUntilATaskIsRunnable) {
  LeaseWaitList waits(&clock_, [this](const v1::LeaseTasksRequest& request) {
    return manager_->LeaseTasks(request);
  });
  manager_->SetTasksRunnableListener([&waits] { waits.Wake(); });
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext(), &waits));
  const std::string worker = RegisterWorker();
  HeldLeaseCall call(ChannelAs(Plaintext()), worker, 60'000);
  ASSERT_TRUE(HeldWithin(waits, 1));

  const std::string id = CreateTransfer("r1");
  Plan(id, {testing::RegularFile("f", 10)});
  grpc::Status status;
  const v1::LeaseTasksResponse& answer = call.Answer(&status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answer.tasks_size(), 1);
  EXPECT_EQ(answer.tasks(0).transfer_id(), id);
  manager_->SetTasksRunnableListener(nullptr);
}

// Refuses (PERMISSION_DENIED) every task with a file whose destination holds "denied",
// as a policy revoked mid-transfer does.
class RefuseDenied final : public TaskAuthorizer {
 public:
  absl::Status Authorize(const v1::Transfer& /*transfer*/, v1::Task* task) override {
    for (const v1::FileTask& file : task->files()) {
      if (absl::StrContains(file.destination_path(), "denied")) {
        return absl::PermissionDeniedError(file.destination_path());
      }
    }
    return absl::OkStatus();
  }
};

// Tasks refused at lease time leave the queue without anything becoming runnable; a
// held call must still go on to the next task at once, not one refusal per wait_ms.
TEST_F(ServicesTest, AHeldLeaseCallGoesPastRefusedTasks) {
  RefuseDenied authorizer;
  options_.task_authorizer = &authorizer;
  options_.plan_limits.max_files_per_task = 1;
  Open();
  LeaseWaitList waits(&clock_, [this](const v1::LeaseTasksRequest& request) {
    return manager_->LeaseTasks(request);
  });
  manager_->SetTasksRunnableListener([&waits] { waits.Wake(); });
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext(), &waits));
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  Plan(id, {testing::RegularFile("denied-1", 10), testing::RegularFile("denied-2", 10),
            testing::RegularFile("denied-3", 10), testing::RegularFile("ok", 10)});

  HeldLeaseCall call(ChannelAs(Plaintext()), worker, 60'000);
  grpc::Status status;
  const v1::LeaseTasksResponse& answer = call.Answer(&status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answer.tasks_size(), 1);
  EXPECT_TRUE(absl::EndsWith(answer.tasks(0).files(0).destination_path(), "/ok"))
      << answer.tasks(0).DebugString();
  EXPECT_EQ(Get(id).progress().files_failed(), 3);
  manager_->SetTasksRunnableListener(nullptr);
}

TEST_F(ServicesTest, AHeldLeaseCallEndsEmptyWhenItsWaitIsOver) {
  LeaseWaitList waits(&clock_, [this](const v1::LeaseTasksRequest& request) {
    return manager_->LeaseTasks(request);
  });
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext(), &waits));
  const std::string worker = RegisterWorker();
  HeldLeaseCall call(ChannelAs(Plaintext()), worker, 5'000);
  ASSERT_TRUE(HeldWithin(waits, 1));
  clock_.Advance(absl::Seconds(5));
  grpc::Status status;
  const v1::LeaseTasksResponse& answer = call.Answer(&status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(answer.tasks().empty());
  EXPECT_EQ(answer.retry_after_ms(), 0);  // Ask again at once.
}

TEST_F(ServicesTest, ALeaseWaitOutOfRangeIsInvalidArgument) {
  LeaseWaitList waits(&clock_, [this](const v1::LeaseTasksRequest& request) {
    return manager_->LeaseTasks(request);
  });
  ASSERT_NO_FATAL_FAILURE(Serve(Plaintext(), &waits));
  const std::string worker = RegisterWorker();
  for (int wait_ms : {-1, 60'001}) {
    HeldLeaseCall call(ChannelAs(Plaintext()), worker, wait_ms);
    grpc::Status status;
    call.Answer(&status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << wait_ms;
    EXPECT_NE(status.error_message().find("wait_ms"), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry::controller
