// End-to-end: real controller and copyd processes on 127.0.0.1 port 0, the real `ferry`
// CLI, a real RocksDB and a real directory tree, every channel mTLS. Proves the walking
// skeleton copies a tree byte for byte, reports the final state through GetTransfer,
// that an acknowledged transfer survives SIGKILL of the controller, and that only the
// right peers get in: a CLI certificate of another CA creates nothing, each service
// refuses the wrong role, a daemon without certificates does not start.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "proto/copy_service.grpc.pb.h"
#include "proto/data_service.grpc.pb.h"
#include "proto/worker_service.grpc.pb.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

using harness::ManagedProcess;
using harness::ProcessOptions;
using harness::RunfilePath;

constexpr absl::Duration kCopyTimeout = absl::Seconds(120);

void WriteFile(const std::string& path, const std::string& data) {
  absl::Status written = e2e::WriteFile(path, data);
  ASSERT_TRUE(written.ok()) << written;
}

// ~200 entries: small files in nested directories, a 64 MiB file, an empty file, an
// empty directory, a 12-level deep directory and a symlink.
void MakeSourceTree(const std::string& root) {
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  for (int d = 0; d < 10; ++d) {
    const std::string dir = absl::StrCat(root, "/dir", d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 18; ++f) {
      WriteFile(absl::StrCat(dir, "/file", f), e2e::RandomBytes(100 + 997 * f, d * 100 + f));
    }
  }
  WriteFile(root + "/big.bin", e2e::RandomBytes(64 << 20, 7));
  WriteFile(root + "/empty", "");
  ASSERT_EQ(mkdir((root + "/empty-dir").c_str(), 0755), 0);
  std::string deep = root;
  for (int level = 0; level < 12; ++level) {
    deep += absl::StrCat("/level", level);
    ASSERT_EQ(mkdir(deep.c_str(), 0750), 0);
  }
  WriteFile(deep + "/bottom.txt", "the bottom of the tree\n");
  ASSERT_EQ(chmod((deep + "/bottom.txt").c_str(), 0600), 0);
  ASSERT_EQ(symlink("dir0/file1", (root + "/link").c_str()), 0);
}

class CopyEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    e2e::ClusterOptions options;
    options.name = "copy";
    options.controller_flags = {"--worker_timeout=3s", "--lease_duration=5s"};
    absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> cluster =
        e2e::LocalCluster::Create(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  void StartController() {
    absl::Status started = cluster_->StartController();
    ASSERT_TRUE(started.ok()) << started;
  }

  void StartCopyd(int index) {
    absl::Status started = cluster_->StartCopyd(index);
    ASSERT_TRUE(started.ok()) << started;
  }

  std::string Root(const std::string& relative) const { return cluster_->root().Join(relative); }

  struct CliRun {
    harness::ExitStatus exit;
    std::string log;  // stdout and stderr
  };

  // Runs the ferry CLI with `args` and the environment entries `env` (NAME=value).
  CliRun RunCli(std::vector<std::string> args, std::vector<std::string> env) {
    ProcessOptions options;
    options.name = "ferry-cli";
    options.binary = RunfilePath("tools/ferry/ferry");
    options.args = std::move(args);
    options.env = std::move(env);
    CliRun run;
    absl::StatusOr<std::unique_ptr<ManagedProcess>> cli = ManagedProcess::Start(options);
    EXPECT_TRUE(cli.ok()) << cli.status();
    if (!cli.ok()) return run;
    absl::StatusOr<harness::ExitStatus> exit = (*cli)->Wait(absl::Now() + kCopyTimeout);
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (exit.ok()) run.exit = *exit;
    run.log = (*cli)->ReadLog().value_or("");
    return run;
  }

  // Runs `ferry cp -r` as the cluster's user, with its certificates in FERRY_TLS_DIR,
  // and returns its stdout+stderr log; asserts exit status 0.
  std::string RunCopy(const std::string& source, const std::string& destination) {
    absl::StatusOr<std::string> tls_dir = cluster_->certificates()->UserTlsDir("e2e");
    EXPECT_TRUE(tls_dir.ok()) << tls_dir.status();
    if (!tls_dir.ok()) return "";
    CliRun run =
        RunCli({"cp", "-r", "--controller=" + cluster_->controller_address(), source,
                destination},
               {"FERRY_TLS_DIR=" + *tls_dir});
    EXPECT_TRUE(run.exit.success()) << run.exit.ToString() << "\n" << run.log;
    return run.log;
  }

  // A stub of `Service` at `address`, presenting gen-certs.sh's certificate `name`.
  template <typename Service>
  std::unique_ptr<typename Service::Stub> StubAs(const std::string& address,
                                                 absl::string_view name) {
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        cluster_->certificates()->ChannelCredentials(name);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return nullptr;
    return Service::NewStub(grpc::CreateChannel(address, *credentials));
  }

  static void SetDeadline(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }

  v1::Transfer GetTransfer(const std::string& id) {
    absl::StatusOr<v1::Transfer> transfer = cluster_->GetTransfer(id);
    EXPECT_TRUE(transfer.ok()) << transfer.status();
    return transfer.ok() ? *transfer : v1::Transfer();
  }

  v1::Transfer NewestTransfer() {
    absl::StatusOr<std::vector<v1::Transfer>> all = cluster_->ListAllTransfers();
    EXPECT_TRUE(all.ok()) << all.status();
    EXPECT_FALSE(all.ok() && all->empty());
    return all.ok() && !all->empty() ? all->front() : v1::Transfer();
  }

  v1::Transfer WaitForTerminal(const std::string& id) {
    absl::StatusOr<v1::Transfer> transfer =
        cluster_->WaitForTransfer(id, e2e::IsTerminal, absl::Now() + kCopyTimeout);
    EXPECT_TRUE(transfer.ok()) << transfer.status();
    return transfer.ok() ? *transfer : v1::Transfer();
  }

  std::unique_ptr<e2e::LocalCluster> cluster_;
};

TEST_F(CopyEndToEndTest, CopiesTreeByteForByteThroughRealProcesses) {
  MakeSourceTree(Root("src"));
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));
  ASSERT_NO_FATAL_FAILURE(StartCopyd(2));

  const std::string output = RunCopy("local:/src", "local:/dst");
  EXPECT_NE(output.find("SUCCEEDED"), std::string::npos) << output;

  absl::Status same = harness::CompareTrees(Root("src"), Root("dst"));
  EXPECT_TRUE(same.ok()) << same;

  const v1::Transfer listed = NewestTransfer();
  const v1::Transfer transfer = GetTransfer(listed.id());
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED) << transfer.DebugString();
  EXPECT_TRUE(transfer.progress().listing_complete());
  // src itself, 10 dirs x 18 files, big, empty, empty-dir, 12 levels + bottom, link.
  EXPECT_EQ(transfer.progress().files_total(), 1 + 10 + 180 + 3 + 13 + 1);
  EXPECT_EQ(transfer.progress().files_done(), transfer.progress().files_total());
  EXPECT_EQ(transfer.progress().files_failed(), 0);
  EXPECT_EQ(transfer.progress().bytes_done(), transfer.progress().bytes_total());
  EXPECT_GE(transfer.progress().bytes_total(), int64_t{64} << 20);

  struct stat original, copied;
  const std::string bottom = "/level0/level1/level2/level3/level4/level5/level6/level7/"
                             "level8/level9/level10/level11/bottom.txt";
  ASSERT_EQ(stat(Root("src" + bottom).c_str(), &original), 0);
  ASSERT_EQ(stat(Root("dst" + bottom).c_str(), &copied), 0);
  EXPECT_EQ(copied.st_mode & 07777, 0600u);
  EXPECT_EQ(copied.st_mtim.tv_sec, original.st_mtim.tv_sec);
  EXPECT_EQ(copied.st_mtim.tv_nsec, original.st_mtim.tv_nsec);
}

TEST_F(CopyEndToEndTest, AcknowledgedTransferSurvivesControllerSigkill) {
  ASSERT_EQ(mkdir(Root("src").c_str(), 0755), 0);
  WriteFile(Root("src/a.txt"), "survives a crash\n");
  ASSERT_NO_FATAL_FAILURE(StartController());

  // No copyd yet: the transfer is acknowledged and persisted but cannot progress.
  const v1::CreateTransferRequest request =
      e2e::LocalCopyRequest("sigkill-test-1", "/src", "/dst");
  absl::StatusOr<v1::Transfer> created = cluster_->CreateTransfer(request);
  ASSERT_TRUE(created.ok()) << created.status();

  ASSERT_TRUE(cluster_->StopController(SIGKILL).ok());
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));

  const v1::Transfer done = WaitForTerminal(created->id());
  EXPECT_EQ(done.state(), v1::TRANSFER_STATE_SUCCEEDED) << done.DebugString();
  absl::StatusOr<std::string> copied = harness::ReadFile(Root("dst/a.txt"));
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, "survives a crash\n");

  // The same request_id after the restart is the same transfer, not a second one.
  absl::StatusOr<v1::Transfer> retried = cluster_->CreateTransfer(request);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->id(), created->id());
}

TEST_F(CopyEndToEndTest, LargeFileIsCopiedInChunksByTwoWorkersAndCommittedOnce) {
  // A controller that splits files over 4 MiB: ~40 MiB is 11 chunks for two copyds
  // (two tasks at once each) to write into one temporary file.
  e2e::ClusterOptions options;
  options.name = "chunked";
  options.controller_flags = {"--worker_timeout=3s", "--lease_duration=5s",
                              "--chunk_size=4194304"};
  absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> cluster =
      e2e::LocalCluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  cluster_ = *std::move(cluster);
  ASSERT_EQ(mkdir(Root("src").c_str(), 0755), 0);
  const size_t size = (40 << 20) + 12345;
  WriteFile(Root("src/large.bin"), e2e::RandomBytes(size, 11));
  WriteFile(Root("src/small.txt"), "rides along\n");
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));
  ASSERT_NO_FATAL_FAILURE(StartCopyd(2));

  const std::string output = RunCopy("local:/src", "local:/dst");
  EXPECT_NE(output.find("SUCCEEDED"), std::string::npos) << output;
  absl::Status same = harness::CompareTrees(Root("src"), Root("dst"));
  EXPECT_TRUE(same.ok()) << same;

  const v1::Transfer transfer = GetTransfer(NewestTransfer().id());
  EXPECT_EQ(transfer.state(), v1::TRANSFER_STATE_SUCCEEDED) << transfer.DebugString();
  // src itself, large.bin (once, however many chunks), small.txt.
  EXPECT_EQ(transfer.progress().files_total(), 3);
  EXPECT_EQ(transfer.progress().files_done(), 3);
  EXPECT_EQ(transfer.files_verified(), 2);
  EXPECT_EQ(transfer.progress().bytes_done(), static_cast<int64_t>(size + 12));
  EXPECT_EQ(transfer.progress().bytes_total(), transfer.progress().bytes_done());
  // The temporary file was renamed into place: nothing else is left beside it.
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(Root("dst"))) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"large.bin", "small.txt"}));
  // It really went in chunks: the controller says so when it commits such a file.
  absl::StatusOr<std::string> log = cluster_->controller()->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_NE(log->find("committed /dst/large.bin (41955385 bytes in 11 chunks"),
            std::string::npos)
      << *log;
}

// Issue 7: a person whose certificate the cluster's CA did not sign gets nowhere, and
// is told which flags to check instead of waiting for a minute of retries.
TEST_F(CopyEndToEndTest, CliWithCertificateOfAnotherCaCannotCreateATransfer) {
  ASSERT_EQ(mkdir(Root("src").c_str(), 0755), 0);
  WriteFile(Root("src/a.txt"), "not for mallory\n");
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));
  e2e::TestCertificates& certificates = *cluster_->certificates();
  absl::Status generated = certificates.Generate({"--user", "mallory", "--other-ca"});
  ASSERT_TRUE(generated.ok()) << generated;

  // The right CA for the controller, a client certificate from the other one.
  std::vector<std::string> args = certificates.Flags("user-mallory-other-ca");
  args[0] = absl::StrCat("--tls_ca=", certificates.dir(), "/ca.pem");
  for (const char* arg : {"cp", "-r"}) args.push_back(arg);
  args.push_back("--controller=" + cluster_->controller_address());
  args.push_back("local:/src");
  args.push_back("local:/dst");
  const absl::Time start = absl::Now();
  const CliRun run = RunCli(args, {});
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "retried instead of giving up";
  EXPECT_TRUE(run.exit.exited && run.exit.code == 1) << run.exit.ToString() << "\n" << run.log;
  EXPECT_TRUE(absl::StrContains(run.log, "the TLS handshake with the controller failed: "
                                         "check --tls_ca, --tls_cert and --tls_key"))
      << run.log;

  absl::StatusOr<std::vector<v1::Transfer>> all = cluster_->ListAllTransfers();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty()) << all->front().DebugString();
  EXPECT_NE(access(Root("dst").c_str(), F_OK), 0);
}

// The peer-role checks on the real processes: CopyService for users, WorkerService for
// this cluster's copyds, DataService for ferry processes of any cluster.
TEST_F(CopyEndToEndTest, EachServiceAcceptsOnlyItsPeers) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));
  absl::Status added = cluster_->certificates()->AddCluster("other");
  ASSERT_TRUE(added.ok()) << added;
  const std::string controller = cluster_->controller_address();

  {  // A process may not create transfers.
    auto stub = StubAs<v1::CopyService>(controller, "local-copyd");
    ASSERT_NE(stub, nullptr);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::Transfer transfer;
    grpc::Status refused = stub->CreateTransfer(
        &context, e2e::LocalCopyRequest("by-a-process", "/src", "/dst"), &transfer);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << refused.error_message();
  }
  for (const char* stranger : {"other-copyd", "user-e2e"}) {  // Nor work for the controller.
    auto stub = StubAs<v1::WorkerService>(controller, stranger);
    ASSERT_NE(stub, nullptr);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::RegisterWorkerRequest request;
    request.set_worker_name("intruder");
    request.set_cluster("local");
    request.set_data_address("127.0.0.1:1");
    request.set_max_concurrent_tasks(1);
    v1::RegisterWorkerResponse response;
    grpc::Status refused = stub->RegisterWorker(&context, request, &response);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << stranger << ": " << refused.error_message();
  }
  // A person may not read a copyd's storage; another cluster's controller gets past the
  // role check (what DataService itself then checks is not this test's business).
  const auto stat_as = [&](absl::string_view name) {
    auto stub = StubAs<v1::DataService>(cluster_->copyd_address(1), name);
    grpc::ClientContext context;
    SetDeadline(context);
    v1::StatRequest request;
    request.set_path("/");
    v1::FileInfo info;
    return stub == nullptr ? grpc::Status(grpc::StatusCode::INTERNAL, "no stub")
                           : stub->Stat(&context, request, &info);
  };
  grpc::Status user = stat_as("user-e2e");
  EXPECT_EQ(user.error_code(), grpc::StatusCode::PERMISSION_DENIED) << user.error_message();
  grpc::Status process = stat_as("other-controller");
  EXPECT_FALSE(absl::StrContains(process.error_message(), "DataService accepts only"))
      << process.error_message();
  EXPECT_NE(process.error_code(), grpc::StatusCode::UNAVAILABLE) << process.error_message();

  absl::StatusOr<std::vector<v1::Transfer>> all = cluster_->ListAllTransfers();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->empty());
}

// mTLS is the default: a daemon given no certificates exits at once and says which flags.
TEST(DaemonStartTest, WithoutCertificatesNoDaemonStarts) {
  absl::StatusOr<harness::TempDir> scratch = harness::TempDir::Create("no-certs");
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  // With a policy and keys, so that the certificates are what is missing.
  ASSERT_TRUE(e2e::WriteFile(scratch->Join("policy"), "").ok());
  absl::StatusOr<std::shared_ptr<e2e::TestCertificates>> certificates =
      e2e::TestCertificates::Create();
  ASSERT_TRUE(certificates.ok()) << certificates.status();
  absl::StatusOr<std::string> keys = (*certificates)->CapabilityKeys();
  ASSERT_TRUE(keys.ok()) << keys.status();
  const std::vector<std::string> auth_flags = {"--policy=" + scratch->Join("policy"),
                                               "--capability_keys=" + *keys};
  for (const auto& [binary, args] :
       {std::pair<std::string, std::vector<std::string>>{
            "controller/controller", {"--data_dir=" + scratch->Join("db")}},
        {"copyd/copyd", {"--controller=127.0.0.1:1", "--root=" + scratch->path()}}}) {
    SCOPED_TRACE(binary);
    ProcessOptions options;
    options.name = "no-certs";
    options.binary = RunfilePath(binary);
    options.args = args;
    options.args.insert(options.args.end(), auth_flags.begin(), auth_flags.end());
    absl::StatusOr<std::unique_ptr<ManagedProcess>> daemon = ManagedProcess::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    absl::StatusOr<harness::ExitStatus> exit = (*daemon)->Wait(absl::Now() + kCopyTimeout);
    ASSERT_TRUE(exit.ok()) << exit.status();
    const std::string log = (*daemon)->ReadLog().value_or("");
    EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString() << "\n" << log;
    EXPECT_TRUE(absl::StrContains(log, "missing --tls_ca, --tls_cert, --tls_key")) << log;
    EXPECT_TRUE(absl::StrContains(log, "--insecure_plaintext_unsafe")) << log;
  }
}

}  // namespace
}  // namespace ferry
