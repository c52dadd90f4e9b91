// End-to-end: real controller and copyd processes on 127.0.0.1 port 0, the real `ferry`
// CLI, a real RocksDB and a real directory tree. Proves the walking skeleton copies a
// tree byte for byte, reports the final state through GetTransfer, and that an
// acknowledged transfer survives SIGKILL of the controller.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/copy_service.grpc.pb.h"
#include "tests/harness/process_harness.h"

namespace ferry {
namespace {

using harness::ManagedProcess;
using harness::ProcessOptions;
using harness::RunfilePath;
using harness::TempDir;

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kCopyTimeout = absl::Seconds(120);

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t value = rng();
    memcpy(&data[i], &value, 8);
  }
  return data;
}

// ~200 entries: small files in nested directories, a 64 MiB file, an empty file, an
// empty directory, a 12-level deep directory and a symlink.
void MakeSourceTree(const std::string& root) {
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  for (int d = 0; d < 10; ++d) {
    const std::string dir = absl::StrCat(root, "/dir", d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 18; ++f) {
      WriteFile(absl::StrCat(dir, "/file", f), RandomBytes(100 + 997 * f, d * 100 + f));
    }
  }
  WriteFile(root + "/big.bin", RandomBytes(64 << 20, 7));
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
    absl::StatusOr<TempDir> data = TempDir::Create("controller-data");
    absl::StatusOr<TempDir> root = TempDir::Create("cluster-root");
    ASSERT_TRUE(data.ok() && root.ok());
    data_dir_ = std::make_unique<TempDir>(std::move(*data));
    root_ = std::make_unique<TempDir>(std::move(*root));
  }

  void StartController() {
    ProcessOptions options;
    options.name = absl::StrCat("controller-", ++controller_starts_);
    options.binary = RunfilePath("controller/controller");
    options.args = {"--data_dir=" + data_dir_->path(), "--listen=127.0.0.1:0",
                    "--worker_timeout=3s", "--lease_duration=5s"};
    options.port_file = true;
    absl::StatusOr<std::unique_ptr<ManagedProcess>> process = ManagedProcess::Start(options);
    ASSERT_TRUE(process.ok()) << process.status();
    controller_ = std::move(*process);
    absl::StatusOr<std::string> address = controller_->WaitServing(absl::Now() + kStartTimeout);
    ASSERT_TRUE(address.ok()) << address.status();
    controller_address_ = *address;
    stub_ = v1::CopyService::NewStub(
        grpc::CreateChannel(controller_address_, grpc::InsecureChannelCredentials()));
  }

  void StartCopyd(int index) {
    ProcessOptions options;
    options.name = absl::StrCat("copyd-", index);
    options.binary = RunfilePath("copyd/copyd");
    options.args = {"--controller=" + controller_address_, "--root=" + root_->path(),
                    "--listen=127.0.0.1:0", absl::StrCat("--name=copyd-", index)};
    options.port_file = true;
    absl::StatusOr<std::unique_ptr<ManagedProcess>> process = ManagedProcess::Start(options);
    ASSERT_TRUE(process.ok()) << process.status();
    ASSERT_TRUE((*process)->WaitServing(absl::Now() + kStartTimeout).ok());
    copyds_.push_back(std::move(*process));
  }

  // Runs `ferry cp -r` and returns its stdout+stderr log; asserts exit status 0.
  std::string RunCopy(const std::string& source, const std::string& destination) {
    ProcessOptions options;
    options.name = "ferry-cp";
    options.binary = RunfilePath("tools/ferry/ferry");
    options.args = {"cp", "-r", "--controller=" + controller_address_, source, destination};
    absl::StatusOr<std::unique_ptr<ManagedProcess>> cli = ManagedProcess::Start(options);
    EXPECT_TRUE(cli.ok()) << cli.status();
    if (!cli.ok()) return "";
    absl::StatusOr<harness::ExitStatus> exit = (*cli)->Wait(absl::Now() + kCopyTimeout);
    absl::StatusOr<std::string> log = (*cli)->ReadLog();
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (exit.ok()) EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << *log;
    return log.ok() ? *log : "";
  }

  v1::Transfer GetTransfer(const std::string& id) {
    grpc::ClientContext context;
    v1::GetTransferRequest request;
    request.set_id(id);
    v1::Transfer transfer;
    grpc::Status status = stub_->GetTransfer(&context, request, &transfer);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return transfer;
  }

  v1::Transfer NewestTransfer() {
    grpc::ClientContext context;
    v1::ListTransfersRequest request;
    request.set_page_size(1);
    v1::ListTransfersResponse response;
    grpc::Status status = stub_->ListTransfers(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.transfers_size(), 1);
    return response.transfers_size() > 0 ? response.transfers(0) : v1::Transfer();
  }

  v1::Transfer WaitForTerminal(const std::string& id) {
    const absl::Time deadline = absl::Now() + kCopyTimeout;
    v1::Transfer transfer;
    while (absl::Now() < deadline) {
      transfer = GetTransfer(id);
      if (transfer.state() >= v1::TRANSFER_STATE_SUCCEEDED) return transfer;
      absl::SleepFor(absl::Milliseconds(50));  // Poll interval, bounded by the deadline.
    }
    ADD_FAILURE() << "transfer " << id << " did not end: " << transfer.DebugString();
    return transfer;
  }

  std::unique_ptr<TempDir> data_dir_;
  std::unique_ptr<TempDir> root_;
  int controller_starts_ = 0;
  std::unique_ptr<ManagedProcess> controller_;
  std::vector<std::unique_ptr<ManagedProcess>> copyds_;
  std::string controller_address_;
  std::unique_ptr<v1::CopyService::Stub> stub_;
};

TEST_F(CopyEndToEndTest, CopiesTreeByteForByteThroughRealProcesses) {
  MakeSourceTree(root_->Join("src"));
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));
  ASSERT_NO_FATAL_FAILURE(StartCopyd(2));

  const std::string output = RunCopy("local:/src", "local:/dst");
  EXPECT_NE(output.find("SUCCEEDED"), std::string::npos) << output;

  absl::Status same = harness::CompareTrees(root_->Join("src"), root_->Join("dst"));
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
  ASSERT_EQ(stat(root_->Join("src" + bottom).c_str(), &original), 0);
  ASSERT_EQ(stat(root_->Join("dst" + bottom).c_str(), &copied), 0);
  EXPECT_EQ(copied.st_mode & 07777, 0600u);
  EXPECT_EQ(copied.st_mtim.tv_sec, original.st_mtim.tv_sec);
  EXPECT_EQ(copied.st_mtim.tv_nsec, original.st_mtim.tv_nsec);
}

TEST_F(CopyEndToEndTest, AcknowledgedTransferSurvivesControllerSigkill) {
  ASSERT_EQ(mkdir(root_->Join("src").c_str(), 0755), 0);
  WriteFile(root_->Join("src/a.txt"), "survives a crash\n");
  ASSERT_NO_FATAL_FAILURE(StartController());

  // No copyd yet: the transfer is acknowledged and persisted but cannot progress.
  v1::CreateTransferRequest request;
  request.set_request_id("sigkill-test-1");
  request.mutable_source()->set_cluster("local");
  request.mutable_source()->set_path("/src");
  v1::Location* destination = request.add_destinations();
  destination->set_cluster("local");
  destination->set_path("/dst");
  request.set_recursive(true);
  grpc::ClientContext context;
  v1::Transfer created;
  ASSERT_TRUE(stub_->CreateTransfer(&context, request, &created).ok());

  ASSERT_TRUE(controller_->Kill(SIGKILL).ok());
  ASSERT_TRUE(controller_->Wait(absl::Now() + kStartTimeout).ok());
  ASSERT_NO_FATAL_FAILURE(StartController());
  ASSERT_NO_FATAL_FAILURE(StartCopyd(1));

  const v1::Transfer done = WaitForTerminal(created.id());
  EXPECT_EQ(done.state(), v1::TRANSFER_STATE_SUCCEEDED) << done.DebugString();
  absl::StatusOr<std::string> copied = harness::ReadFile(root_->Join("dst/a.txt"));
  ASSERT_TRUE(copied.ok()) << copied.status();
  EXPECT_EQ(*copied, "survives a crash\n");

  // The same request_id after the restart is the same transfer, not a second one.
  grpc::ClientContext retry_context;
  v1::Transfer retried;
  grpc::Status retry_status = stub_->CreateTransfer(&retry_context, request, &retried);
  ASSERT_TRUE(retry_status.ok()) << retry_status.error_message();
  EXPECT_EQ(retried.id(), created.id());
}

}  // namespace
}  // namespace ferry
