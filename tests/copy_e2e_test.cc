// End-to-end: real controller and copyd processes on 127.0.0.1 port 0, the real `ferry`
// CLI, a real RocksDB and a real directory tree. Proves the walking skeleton copies a
// tree byte for byte, reports the final state through GetTransfer, and that an
// acknowledged transfer survives SIGKILL of the controller.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/copy_service.pb.h"
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

  // Runs `ferry cp -r` and returns its stdout+stderr log; asserts exit status 0.
  std::string RunCopy(const std::string& source, const std::string& destination) {
    ProcessOptions options;
    options.name = "ferry-cp";
    options.binary = RunfilePath("tools/ferry/ferry");
    options.args = {"cp", "-r", "--controller=" + cluster_->controller_address(), source,
                    destination};
    absl::StatusOr<std::unique_ptr<ManagedProcess>> cli = ManagedProcess::Start(options);
    EXPECT_TRUE(cli.ok()) << cli.status();
    if (!cli.ok()) return "";
    absl::StatusOr<harness::ExitStatus> exit = (*cli)->Wait(absl::Now() + kCopyTimeout);
    absl::StatusOr<std::string> log = (*cli)->ReadLog();
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (exit.ok()) {
      EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << *log;
    }
    return log.ok() ? *log : "";
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

}  // namespace
}  // namespace ferry
