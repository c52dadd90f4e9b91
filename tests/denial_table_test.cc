// The end-to-end rows of issue 7's denial table: hostile requests against a real
// controller and copyd (mTLS, --policy, --capability_keys), each asserting the exact
// status and that nothing was created, read or written; and a policy revoked
// mid-transfer by SIGHUP, which stops the transfer without leaving a partial file.
// The unit-level rows are in controller/authorizer_hooks_test.cc,
// controller/transfer_manager_auth_test.cc and
// copyd/capability_checked_data_service_test.cc.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth/capability.h"
#include "auth/key_ring.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/copy_service.grpc.pb.h"
#include "proto/data_service.grpc.pb.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(120);
constexpr char kE2e[] = "ferry://user/e2e";

// e2e reads /src and writes /dst of cluster local and is an admin; bob has nothing.
constexpr char kPolicy[] = R"(
grants { principals: "ferry://user/e2e" cluster: "local" path_prefix: "/src"
         permissions: PERMISSION_READ }
grants { principals: "ferry://user/e2e" cluster: "local" path_prefix: "/dst"
         permissions: PERMISSION_WRITE }
admin_principals: "ferry://user/e2e"
)";
// The same without the WRITE grant on /dst.
constexpr char kRevokedPolicy[] = R"(
grants { principals: "ferry://user/e2e" cluster: "local" path_prefix: "/src"
         permissions: PERMISSION_READ }
admin_principals: "ferry://user/e2e"
)";

using Code = grpc::StatusCode;

struct Row {
  std::string name;
  std::function<grpc::Status()> call;
  Code code;
};

class DenialTableTest : public ::testing::Test {
 protected:
  void StartCluster(const std::string& name, std::vector<std::string> controller_flags) {
    e2e::ClusterOptions options;
    options.name = name;
    options.policy = kPolicy;
    options.controller_flags = std::move(controller_flags);
    options.copyd_flags = {"--max_tasks=1"};
    absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> cluster =
        e2e::LocalCluster::Create(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    ASSERT_TRUE(cluster_->StartController().ok());
  }

  std::string Root(const std::string& relative) const {
    return cluster_->root().Join(relative);
  }

  std::shared_ptr<grpc::ChannelCredentials> CredentialsOf(const std::string& name) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        cluster_->certificates()->ChannelCredentials(name);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    return credentials.ok() ? *credentials : grpc::InsecureChannelCredentials();
  }

  std::unique_ptr<v1::CopyService::Stub> CopyServiceAs(
      std::shared_ptr<grpc::ChannelCredentials> credentials) {
    return v1::CopyService::NewStub(
        grpc::CreateChannel(cluster_->controller_address(), std::move(credentials)));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }

  static grpc::Status Create(v1::CopyService::Stub* stub, const std::string& source,
                             const std::string& destination) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::Transfer transfer;
    return stub->CreateTransfer(
        &context, e2e::LocalCopyRequest(absl::StrCat("r", source, destination), source,
                                        destination),
        &transfer);
  }

  // Every row's status is exactly its code.
  static void RunTable(const std::vector<Row>& rows) {
    for (const Row& row : rows) {
      SCOPED_TRACE(row.name);
      const grpc::Status status = row.call();
      EXPECT_EQ(status.error_code(), row.code) << status.error_message();
    }
  }

  std::unique_ptr<e2e::LocalCluster> cluster_;
};

TEST_F(DenialTableTest, CopyServiceAndDataServiceRefuseHostileRequests) {
  ASSERT_NO_FATAL_FAILURE(StartCluster("denial", {"--lease_duration=5s"}));
  ASSERT_EQ(mkdir(Root("src").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(Root("srcx").c_str(), 0755), 0);
  ASSERT_TRUE(e2e::WriteFile(Root("src/a.txt"), "alpha").ok());
  ASSERT_TRUE(e2e::WriteFile(Root("srcx/secret.txt"), "secret").ok());
  e2e::TestCertificates& certificates = *cluster_->certificates();
  ASSERT_TRUE(certificates.AddUser("bob").ok());
  ASSERT_TRUE(certificates.Generate({"--user", "mallory", "--other-ca"}).ok());
  ASSERT_TRUE(certificates.Generate({"--user", "eve", "--expired"}).ok());

  // A transfer e2e may make, left pending (no copyd yet): what bob then goes after.
  absl::StatusOr<v1::Transfer> mine =
      cluster_->CreateTransfer(e2e::LocalCopyRequest("mine", "/src", "/dst/mine"));
  ASSERT_TRUE(mine.ok()) << mine.status();

  auto e2e = CopyServiceAs(CredentialsOf("user-e2e"));
  auto bob = CopyServiceAs(CredentialsOf("user-bob"));
  auto copyd = CopyServiceAs(CredentialsOf("local-copyd"));
  auto other_ca = CopyServiceAs(CredentialsOf("user-mallory-other-ca"));
  auto expired = CopyServiceAs(CredentialsOf("user-eve-expired"));
  absl::StatusOr<std::string> ca = harness::ReadFile(certificates.Config("user-e2e").files.ca);
  ASSERT_TRUE(ca.ok()) << ca.status();
  grpc::SslCredentialsOptions no_client_certificate;
  no_client_certificate.pem_root_certs = *ca;
  auto anonymous = CopyServiceAs(grpc::SslCredentials(no_client_certificate));

  const std::string id = mine->id();
  auto get = [id](v1::CopyService::Stub* stub) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::GetTransferRequest request;
    request.set_id(id);
    v1::Transfer transfer;
    return stub->GetTransfer(&context, request, &transfer);
  };
  auto cancel = [id](v1::CopyService::Stub* stub) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::CancelTransferRequest request;
    request.set_id(id);
    v1::Transfer transfer;
    return stub->CancelTransfer(&context, request, &transfer);
  };
  auto list = [](v1::CopyService::Stub* stub, bool all_users, const std::string& user) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListTransfersRequest request;
    request.set_all_users(all_users);
    request.set_user(user);
    v1::ListTransfersResponse response;
    return stub->ListTransfers(&context, request, &response);
  };
  auto watch = [id](v1::CopyService::Stub* stub) {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::WatchTransferRequest request;
    request.set_id(id);
    auto reader = stub->WatchTransfer(&context, request);
    v1::TransferEvent event;
    while (reader->Read(&event)) context.TryCancel();
    return reader->Finish();
  };

  const std::vector<Row> copy_rows = {
      {"no grant at all (bob)", [&] { return Create(bob.get(), "/src", "/dst/b"); },
       Code::PERMISSION_DENIED},
      {"grant on a sibling prefix of the source",
       [&] { return Create(e2e.get(), "/srcx", "/dst/x"); }, Code::PERMISSION_DENIED},
      {"grant on a sibling prefix of the destination",
       [&] { return Create(e2e.get(), "/src", "/dstx"); }, Code::PERMISSION_DENIED},
      {"READ is not WRITE: destination inside the source grant",
       [&] { return Create(e2e.get(), "/src/a.txt", "/src/b.txt"); },
       Code::PERMISSION_DENIED},
      {"dot-dot from the granted source to its sibling",
       [&] { return Create(e2e.get(), "/src/../srcx", "/dst/y"); }, Code::INVALID_ARGUMENT},
      {"dot-dot from the granted destination out of it",
       [&] { return Create(e2e.get(), "/src", "/dst/../srcx/z"); }, Code::INVALID_ARGUMENT},
      {"doubled slash", [&] { return Create(e2e.get(), "/src//a.txt", "/dst/c"); },
       Code::INVALID_ARGUMENT},
      {"a process certificate cannot create transfers",
       [&] { return Create(copyd.get(), "/src", "/dst/d"); }, Code::PERMISSION_DENIED},
      {"no client certificate", [&] { return Create(anonymous.get(), "/src", "/dst/e"); },
       Code::UNAVAILABLE},
      {"certificate from another CA", [&] { return Create(other_ca.get(), "/src", "/dst/f"); },
       Code::UNAVAILABLE},
      {"expired certificate", [&] { return Create(expired.get(), "/src", "/dst/g"); },
       Code::UNAVAILABLE},
      {"non-admin lists all users", [&] { return list(bob.get(), true, ""); },
       Code::PERMISSION_DENIED},
      {"non-admin lists another user", [&] { return list(bob.get(), false, kE2e); },
       Code::PERMISSION_DENIED},
      {"non-admin reads another user's transfer", [&] { return get(bob.get()); },
       Code::PERMISSION_DENIED},
      {"non-admin watches another user's transfer", [&] { return watch(bob.get()); },
       Code::PERMISSION_DENIED},
      {"non-admin cancels another user's transfer", [&] { return cancel(bob.get()); },
       Code::PERMISSION_DENIED},
      {"owner reads its transfer", [&] { return get(e2e.get()); }, Code::OK},
      {"admin lists all users", [&] { return list(e2e.get(), true, ""); }, Code::OK},
  };
  RunTable(copy_rows);

  // Nothing was persisted for the refused requests, and bob cancelled nothing.
  absl::StatusOr<std::vector<v1::Transfer>> all = cluster_->ListAllTransfers();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().id(), id);
  EXPECT_NE(all->front().state(), v1::TRANSFER_STATE_CANCELLED);

  // DataService of a real copyd: nothing is read without a capability that this
  // cluster's keys verify and whose user this cluster's policy lets read.
  ASSERT_TRUE(cluster_->StartCopyd(1).ok());
  absl::StatusOr<std::string> key_file = certificates.CapabilityKeys();
  ASSERT_TRUE(key_file.ok()) << key_file.status();
  absl::StatusOr<std::unique_ptr<auth::KeyRing>> keys = auth::KeyRing::Open(*key_file);
  ASSERT_TRUE(keys.ok()) << keys.status();
  absl::StatusOr<std::shared_ptr<const auth::KeySet>> stranger_set = auth::KeySet::Parse(
      absl::StrCat("k1 ", std::string(64, 'f'), " signing\n"), "stranger");
  ASSERT_TRUE(stranger_set.ok()) << stranger_set.status();
  std::unique_ptr<auth::KeyRing> stranger = auth::KeyRing::FromKeySet(*stranger_set);
  auto capability = [](const auth::KeyRing& ring, const std::string& user,
                       const std::string& path) {
    v1::CapabilityClaims claims;
    claims.set_transfer_id("t-forged");
    claims.set_user(user);
    claims.set_issuer_cluster("local");
    claims.set_audience_cluster("local");
    claims.set_path(path);
    claims.set_operation(v1::CAPABILITY_OPERATION_READ);
    claims.set_expiry_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Minutes(5)));
    absl::StatusOr<v1::Capability> signed_claims = auth::Sign(ring, claims);
    EXPECT_TRUE(signed_claims.ok()) << signed_claims.status();
    return signed_claims.ok() ? *signed_claims : v1::Capability();
  };
  int64_t bytes_read = 0;
  auto read_as = [&](const std::string& certificate, const v1::Capability& granted,
                     const std::string& path) {
    auto stub = v1::DataService::NewStub(
        grpc::CreateChannel(cluster_->copyd_address(1), CredentialsOf(certificate)));
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ReadChunkRequest request;
    *request.mutable_capability() = granted;
    request.set_path(path);
    auto reader = stub->ReadChunk(&context, request);
    for (v1::DataBlock block; reader->Read(&block);) bytes_read += block.data().size();
    return reader->Finish();
  };
  const v1::Capability good = capability(**keys, kE2e, "/src/a.txt");
  const std::vector<Row> data_rows = {
      {"a user certificate on the data path",
       [&] { return read_as("user-e2e", good, "/src/a.txt"); }, Code::PERMISSION_DENIED},
      {"a process without a capability",
       [&] { return read_as("local-controller", v1::Capability(), "/src/a.txt"); },
       Code::UNAUTHENTICATED},
      {"a capability signed with a key this cluster does not hold",
       [&] { return read_as("local-controller", capability(*stranger, kE2e, "/src/a.txt"),
                            "/src/a.txt"); },
       Code::UNAUTHENTICATED},
      {"a valid capability replayed for another file",
       [&] { return read_as("local-controller", good, "/srcx/secret.txt"); },
       Code::PERMISSION_DENIED},
      {"a valid capability for a user the local policy refuses",
       [&] { return read_as("local-controller",
                            capability(**keys, "ferry://user/bob", "/src/a.txt"),
                            "/src/a.txt"); },
       Code::PERMISSION_DENIED},
      {"a valid capability outside the user's grant",
       [&] { return read_as("local-controller", capability(**keys, kE2e, "/srcx/secret.txt"),
                            "/srcx/secret.txt"); },
       Code::PERMISSION_DENIED},
  };
  RunTable(data_rows);
  EXPECT_EQ(bytes_read, 0);
  EXPECT_TRUE(read_as("local-controller", good, "/src/a.txt").ok());  // The control.
  EXPECT_EQ(bytes_read, 5);

  // The pending transfer runs now, as granted; the refused destinations stay absent.
  absl::StatusOr<v1::Transfer> done = cluster_->WaitForTransfer(
      id, e2e::IsTerminal, absl::Now() + kTimeout);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::TRANSFER_STATE_SUCCEEDED) << done->DebugString();
  for (const char* refused : {"dst/b", "dst/x", "dstx", "src/b.txt", "dst/d", "dst/e"}) {
    EXPECT_FALSE(std::filesystem::exists(Root(refused))) << refused;
  }
  std::cout << "end-to-end denial rows: " << copy_rows.size() + data_rows.size() << "\n";
}

TEST_F(DenialTableTest, PolicyRevokedMidTransferStopsItWithoutPartialFiles) {
  // One file per task and one task at a time, so the transfer is still running when
  // the policy changes.
  ASSERT_NO_FATAL_FAILURE(
      StartCluster("revoke", {"--lease_duration=5s", "--max_files_per_task=1"}));
  ASSERT_EQ(mkdir(Root("src").c_str(), 0755), 0);
  constexpr int kFiles = 60;
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(e2e::WriteFile(Root(absl::StrCat("src/f", i)), e2e::RandomBytes(8192, i)).ok());
  }
  ASSERT_TRUE(cluster_->StartCopyd(1).ok());
  absl::StatusOr<v1::Transfer> created =
      cluster_->CreateTransfer(e2e::LocalCopyRequest("revoke", "/src", "/dst"));
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<v1::Transfer> started = cluster_->WaitForTransfer(
      created->id(), [](const v1::Transfer& t) { return t.progress().files_done() >= 3; },
      absl::Now() + kTimeout, absl::Milliseconds(5));
  ASSERT_TRUE(started.ok()) << started.status();

  ASSERT_TRUE(cluster_->SetPolicy(kRevokedPolicy).ok());
  ASSERT_TRUE(cluster_->controller()->Kill(SIGHUP).ok());

  absl::StatusOr<v1::Transfer> done = cluster_->WaitForTransfer(
      created->id(), e2e::IsTerminal, absl::Now() + kTimeout);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::TRANSFER_STATE_FAILED) << done->DebugString();
  EXPECT_LT(done->progress().files_done(), kFiles + 1);
  EXPECT_GT(done->progress().files_failed(), 0);
  ASSERT_GT(done->errors_size(), 0);
  EXPECT_EQ(done->errors(done->errors_size() - 1).code(),
            static_cast<int>(grpc::StatusCode::PERMISSION_DENIED))
      << done->DebugString();
  EXPECT_TRUE(cluster_->controller()->Running()) << "SIGHUP must not kill the controller";

  // Every file at the destination is complete; no temporary file is left.
  int present = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(Root("dst"))) {
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(absl::StrContains(name, ".ferry")) << "left behind: " << entry.path();
    if (!entry.is_regular_file()) continue;
    ++present;
    absl::StatusOr<std::string> copied = harness::ReadFile(entry.path().string());
    absl::StatusOr<std::string> original =
        harness::ReadFile(Root(absl::StrCat("src/", name)));
    ASSERT_TRUE(copied.ok() && original.ok());
    EXPECT_EQ(*copied, *original) << name;
  }
  EXPECT_LT(present, kFiles);
  std::cout << "revoked mid-transfer after " << present << " of " << kFiles << " files\n";
}

}  // namespace
}  // namespace ferry
