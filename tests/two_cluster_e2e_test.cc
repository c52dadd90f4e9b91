// End-to-end between two clusters on 127.0.0.1 (pull): cluster "a" is only a source (its
// controller and one copyd, no transfers); cluster "b" (its controller with
// --peer=a=<a's copyd>, two copyds, separate root and RocksDB directory) owns the
// transfer a:/src -> b:/dst. b's controller plans through a's DataService, b's copyds
// read through it (ReadChunk, per-block CRC32C) and write b's root: small files, an
// empty file, an empty directory, a symlink and a file copied in chunks arrive
// byte-identical and the transfer SUCCEEDS. Both clusters' certificates come from one CA,
// and every channel, within a cluster and between them, is mTLS.
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
#include "gtest/gtest.h"
#include "proto/copy_service.pb.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

constexpr absl::Duration kCopyTimeout = absl::Seconds(120);
constexpr size_t kLargeSize = (5 << 20) + 4321;  // Six chunks of 1 MiB.

void WriteFile(const std::string& path, const std::string& data) {
  absl::Status written = e2e::WriteFile(path, data);
  ASSERT_TRUE(written.ok()) << written;
}

// Cluster `name` with certificates of the test's one CA (null: a new CA).
std::unique_ptr<e2e::LocalCluster> NewCluster(
    const std::string& name, std::vector<std::string> controller_flags,
    std::shared_ptr<e2e::TestCertificates> certificates = nullptr) {
  e2e::ClusterOptions options;
  options.name = absl::StrCat("two-", name);
  options.cluster = name;
  options.certificates = std::move(certificates);
  options.controller_flags = {"--worker_timeout=3s", "--lease_duration=5s"};
  options.controller_flags.insert(options.controller_flags.end(), controller_flags.begin(),
                                  controller_flags.end());
  absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> cluster =
      e2e::LocalCluster::Create(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

TEST(TwoClusterEndToEndTest, DestinationPullsATreeFromAPeerCluster) {
  std::unique_ptr<e2e::LocalCluster> a = NewCluster("a", {});
  ASSERT_NE(a, nullptr);
  const std::string src = a->root().Join("src");
  ASSERT_EQ(mkdir(src.c_str(), 0755), 0);
  for (int d = 0; d < 3; ++d) {
    const std::string dir = absl::StrCat(src, "/dir", d);
    ASSERT_EQ(mkdir(dir.c_str(), 0750), 0);
    for (int f = 0; f < 10; ++f) {
      WriteFile(absl::StrCat(dir, "/file", f), e2e::RandomBytes(10 + 1009 * f, d * 10 + f));
    }
  }
  WriteFile(src + "/large.bin", e2e::RandomBytes(kLargeSize, 42));
  WriteFile(src + "/empty", "");
  ASSERT_EQ(chmod((src + "/dir1/file3").c_str(), 0600), 0);
  ASSERT_EQ(mkdir((src + "/empty-dir").c_str(), 0755), 0);
  ASSERT_EQ(symlink("dir0/file1", (src + "/link").c_str()), 0);

  ASSERT_TRUE(a->StartController().ok());
  absl::Status started = a->StartCopyd(1);
  ASSERT_TRUE(started.ok()) << started;
  const std::string peer = a->copyd_address(1);
  ASSERT_FALSE(peer.empty());

  // b's controller lists through a's copyd, and b's copyds read from it, over mTLS.
  std::unique_ptr<e2e::LocalCluster> b = NewCluster(
      "b", {"--chunk_size=1MiB", absl::StrCat("--peer=a=", peer)}, a->certificates());
  ASSERT_NE(b, nullptr);
  started = b->StartController();
  ASSERT_TRUE(started.ok()) << started;
  for (int index : {1, 2}) {
    started = b->StartCopyd(index);
    ASSERT_TRUE(started.ok()) << started;
  }

  v1::CreateTransferRequest request;
  request.set_request_id("pull-1");
  request.mutable_source()->set_cluster("a");
  request.mutable_source()->set_path("/src");
  v1::Location* destination = request.add_destinations();
  destination->set_cluster("b");
  destination->set_path("/dst");
  request.set_recursive(true);
  request.mutable_preserve()->set_mode(true);
  request.mutable_preserve()->set_mtime(true);

  // A cluster that is neither b nor its peer stays unknown.
  v1::CreateTransferRequest unknown = request;
  unknown.set_request_id("pull-unknown");
  unknown.mutable_source()->set_cluster("c");
  absl::StatusOr<v1::Transfer> refused = b->CreateTransfer(unknown);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "source.cluster"))
      << refused.status();

  absl::StatusOr<v1::Transfer> created = b->CreateTransfer(request);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<v1::Transfer> done =
      b->WaitForTransfer(created->id(), e2e::IsTerminal, absl::Now() + kCopyTimeout);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->state(), v1::TRANSFER_STATE_SUCCEEDED) << done->DebugString();

  const std::string dst = b->root().Join("dst");
  absl::Status same = harness::CompareTrees(src, dst);
  EXPECT_TRUE(same.ok()) << same;
  // src itself, 3 dirs x 10 files, large.bin (once), empty, empty-dir, link.
  EXPECT_EQ(done->progress().files_total(), 1 + 3 + 30 + 4);
  EXPECT_EQ(done->progress().files_done(), done->progress().files_total());
  EXPECT_EQ(done->progress().files_failed(), 0);
  EXPECT_EQ(done->progress().bytes_done(), done->progress().bytes_total());

  struct stat original, copied;
  ASSERT_EQ(stat((src + "/dir1/file3").c_str(), &original), 0);
  ASSERT_EQ(stat((dst + "/dir1/file3").c_str(), &copied), 0);
  EXPECT_EQ(copied.st_mode & 07777, 0600u);
  ASSERT_EQ(stat((src + "/large.bin").c_str(), &original), 0);
  ASSERT_EQ(stat((dst + "/large.bin").c_str(), &copied), 0);
  EXPECT_EQ(copied.st_mtim.tv_sec, original.st_mtim.tv_sec);
  EXPECT_EQ(copied.st_mtim.tv_nsec, original.st_mtim.tv_nsec);

  // Nothing but the copied entries is left in b's /dst (no temporary file), and the
  // source cluster's root gained nothing.
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(dst)) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"dir0", "dir1", "dir2", "empty", "empty-dir",
                                            "large.bin", "link"}));
  EXPECT_FALSE(std::filesystem::exists(a->root().Join("dst")));

  // The large file went in chunks, read from cluster a.
  absl::StatusOr<std::string> log = b->controller()->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(absl::StrContains(
      *log, absl::StrCat("committed /dst/large.bin (", kLargeSize, " bytes in 6 chunks")))
      << *log;
}

}  // namespace
}  // namespace ferry
