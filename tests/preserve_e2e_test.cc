// End-to-end tests of what ferry preserves besides bytes, between two clusters on
// 127.0.0.1 (real processes, mTLS, the default test policy): cluster "a" is the source
// (its controller and one copyd), cluster "b" (its controller with --peer=a=<a's copyd>
// and --chunk_size=1MiB, two copyds) pulls a:/... into b's root.
//   - Hard links and directory attributes: a tree with one inode of three names in
//     three directories (larger than the chunk size, so its first name is copied in
//     chunks and the others are linked to it in the LINKS phase), one inode of two
//     names, a file with one name, directories with distinct past mtimes (one of mode
//     0555 holding files and a nested 0700 directory) and an empty directory. With
//     preserve mode, mtime and hard_links the names of one source inode share one
//     inode at b and different inodes stay different; every directory's mode and mtime
//     (to the nanosecond) equal the source's (set by FINALIZE_DIRS after everything
//     inside exists); the counters follow controller/README.md (every name counts in
//     files_total, a linked name's bytes are not in bytes_total); no temporary file.
//   - The same tree without hard_links: every name is its own inode, bytes equal.
//   - Owners (only when the test runs as root, as copyd then does): files, a chunked
//     file, directories and a symlink owned by 1234:5678 keep that owner under
//     preserve owner and do not get it without.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/copy_service.pb.h"
#include "storage/path.h"
#include "tests/harness/process_harness.h"
#include "tests/local_cluster.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kCopyTimeout = absl::Seconds(60);
constexpr size_t kMiB = 1 << 20;
// Larger than b's 1 MiB chunk size: copied in 4 chunks.
constexpr size_t kBigSize = 3 * kMiB + 12345;
constexpr int kBigChunks = 4;
constexpr size_t kSmallSize = 4321;
constexpr size_t kSingleSize = 777;

// Distinct past mtimes with nanoseconds, so that a copy that rounds or keeps the time
// of its own writes is caught.
constexpr timespec kRootMtime = {1400000000, 100000001};
constexpr timespec kD1Mtime = {1500000000, 200000002};
constexpr timespec kD2Mtime = {1550000000, 300000003};
constexpr timespec kNestedMtime = {1600000000, 400000004};
constexpr timespec kEmptyMtime = {1000000000, 500000005};

// The tree's names (relative to its root), by source inode.
const std::vector<std::string> kBigNames = {"d1/big", "d2/big-2", "d2/nested/big-3"};
const std::vector<std::string> kSmallNames = {"d1/small", "d2/nested/small-2"};
constexpr char kSingleName[] = "d2/single";
const std::vector<std::string> kDirectories = {"", "d1", "d2", "d2/nested", "empty"};
// The root itself, 4 directories below it, 6 names of regular files, one symlink.
constexpr int kTreeEntries = 12;

constexpr uid_t kOwnerUid = 1234;
constexpr gid_t kOwnerGid = 5678;

std::string Join(const std::string& root, const std::string& relative) {
  return relative.empty() ? root : absl::StrCat(root, "/", relative);
}

void MakeDir(const std::string& path, mode_t mode = 0755) {
  ASSERT_EQ(mkdir(path.c_str(), mode), 0) << path << ": " << strerror(errno);
}

void WriteFile(const std::string& path, const std::string& data) {
  absl::Status written = e2e::WriteFile(path, data);
  ASSERT_TRUE(written.ok()) << written;
}

void HardLink(const std::string& existing, const std::string& name) {
  ASSERT_EQ(link(existing.c_str(), name.c_str()), 0) << name << ": " << strerror(errno);
}

void SetMode(const std::string& path, mode_t mode) {
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path << ": " << strerror(errno);
}

void SetMtime(const std::string& path, timespec mtime) {
  const timespec times[2] = {mtime, mtime};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0)
      << path << ": " << strerror(errno);
}

struct stat Lstat(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}

// The hard-link tree under `root` (created here); see the file comment.
void MakeLinkedTree(const std::string& root) {
  MakeDir(root);
  for (const char* dir : {"d1", "d2", "d2/nested", "empty"}) {
    ASSERT_NO_FATAL_FAILURE(MakeDir(Join(root, dir)));
  }
  WriteFile(Join(root, kBigNames[0]), e2e::RandomBytes(kBigSize, 1));
  WriteFile(Join(root, kSmallNames[0]), e2e::RandomBytes(kSmallSize, 2));
  WriteFile(Join(root, kSingleName), e2e::RandomBytes(kSingleSize, 3));
  for (size_t i = 1; i < kBigNames.size(); ++i) {
    ASSERT_NO_FATAL_FAILURE(HardLink(Join(root, kBigNames[0]), Join(root, kBigNames[i])));
  }
  ASSERT_NO_FATAL_FAILURE(HardLink(Join(root, kSmallNames[0]), Join(root, kSmallNames[1])));
  ASSERT_EQ(symlink("d1/small", Join(root, "link").c_str()), 0) << strerror(errno);
  // Modes and mtimes last, deepest first: nothing is created in these directories
  // afterwards, and setting a child's attributes leaves its parent's mtime alone.
  SetMode(Join(root, "d1"), 0750);
  SetMode(Join(root, "d2/nested"), 0700);
  SetMode(Join(root, "d2"), 0555);
  SetMtime(Join(root, "d2/nested"), kNestedMtime);
  SetMtime(Join(root, "d2"), kD2Mtime);
  SetMtime(Join(root, "d1"), kD1Mtime);
  SetMtime(Join(root, "empty"), kEmptyMtime);
  SetMtime(root, kRootMtime);
}

// Calls `check(relative path, source stat, copy stat)` for `src` itself and every
// entry below it; an entry missing under `dst` fails. Returns how many were compared.
int ForEachPair(
    const std::string& src, const std::string& dst,
    const std::function<void(const std::string&, const struct stat&, const struct stat&)>&
        check) {
  std::vector<std::string> relatives = {""};
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(src, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    relatives.push_back(it->path().lexically_relative(src).string());
  }
  EXPECT_FALSE(error) << src << ": " << error.message();
  int compared = 0;
  for (const std::string& relative : relatives) {
    struct stat copy;
    if (lstat(Join(dst, relative).c_str(), &copy) != 0) {
      ADD_FAILURE() << "missing in the copy: " << relative;
      continue;
    }
    check(relative, Lstat(Join(src, relative)), copy);
    ++compared;
  }
  return compared;
}

// Same type everywhere; directories and regular files with the same mode and mtime
// (ns). Symlinks' mtimes are not preserved by ferry.
void ExpectModesAndMtimesPreserved(const std::string& src, const std::string& dst) {
  int directories = 0;
  ForEachPair(src, dst, [&](const std::string& rel, const struct stat& a,
                            const struct stat& b) {
    EXPECT_EQ(a.st_mode & S_IFMT, b.st_mode & S_IFMT) << rel;
    if (!S_ISDIR(a.st_mode) && !S_ISREG(a.st_mode)) return;
    directories += S_ISDIR(a.st_mode) ? 1 : 0;
    EXPECT_EQ(a.st_mode & 07777, b.st_mode & 07777) << "mode of '" << rel << "'";
    EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec) << "mtime of '" << rel << "'";
    EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec) << "mtime of '" << rel << "'";
  });
  EXPECT_EQ(directories, static_cast<int>(kDirectories.size()));
}

// Paths below `root` whose name starts with storage's temporary-file prefix.
std::vector<std::string> TemporaryFiles(const std::string& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (absl::StartsWith(entry.path().filename().string(), storage::kTempFilePrefix)) {
      found.push_back(entry.path().string());
    }
  }
  return found;
}

// Lines of `log` that report a chunked file committed below `destination`.
int ChunkedCommitsBelow(const std::string& log, const std::string& destination) {
  int commits = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, absl::StrCat(": committed ", destination, "/")) &&
        absl::StrContains(line, absl::StrCat(" bytes in ", kBigChunks, " chunks"))) {
      ++commits;
    }
  }
  return commits;
}

class PreserveEndToEndTest : public ::testing::Test {
 protected:
  // Cluster a (controller, one copyd) and b (controller pulling from a with 1 MiB
  // chunks, two copyds), named after the test so that their logs are its own.
  void SetUp() override {
    const std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    a_ = NewCluster(test, "a", {}, nullptr);
    ASSERT_NE(a_, nullptr);
    absl::Status started = a_->StartController();
    ASSERT_TRUE(started.ok()) << started;
    started = a_->StartCopyd(1);
    ASSERT_TRUE(started.ok()) << started;
    b_ = NewCluster(test, "b",
                    {"--chunk_size=1MiB", absl::StrCat("--peer=a=", a_->copyd_address(1))},
                    a_->certificates());
    ASSERT_NE(b_, nullptr);
    started = b_->StartController();
    ASSERT_TRUE(started.ok()) << started;
    for (int index : {1, 2}) {
      started = b_->StartCopyd(index);
      ASSERT_TRUE(started.ok()) << started;
    }
  }

  static std::unique_ptr<e2e::LocalCluster> NewCluster(
      const std::string& test, const std::string& cluster,
      std::vector<std::string> controller_flags,
      std::shared_ptr<e2e::TestCertificates> certificates) {
    e2e::ClusterOptions options;
    options.name = absl::StrCat("preserve-", test, "-", cluster);
    options.cluster = cluster;
    options.certificates = std::move(certificates);
    options.controller_flags = {"--worker_timeout=3s", "--lease_duration=5s"};
    options.controller_flags.insert(options.controller_flags.end(),
                                    controller_flags.begin(), controller_flags.end());
    absl::StatusOr<std::unique_ptr<e2e::LocalCluster>> created =
        e2e::LocalCluster::Create(options);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *std::move(created) : nullptr;
  }

  // Starts the copy a:`source` -> b:`destination` (recursive) with `preserve`.
  std::string StartCopy(const std::string& source, const std::string& destination,
                        const v1::PreserveFlags& preserve) {
    v1::CreateTransferRequest request;
    request.set_request_id(absl::StrCat("copy-", destination.substr(1)));
    request.mutable_source()->set_cluster("a");
    request.mutable_source()->set_path(source);
    v1::Location* to = request.add_destinations();
    to->set_cluster("b");
    to->set_path(destination);
    request.set_recursive(true);
    *request.mutable_preserve() = preserve;
    absl::StatusOr<v1::Transfer> created = b_->CreateTransfer(request);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->id() : "";
  }

  // Waits for transfer `id` to end and expects it SUCCEEDED with every file done.
  v1::Transfer WaitSucceeded(const std::string& id) {
    absl::StatusOr<v1::Transfer> done =
        b_->WaitForTransfer(id, e2e::IsTerminal, absl::Now() + kCopyTimeout);
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok()) return v1::Transfer();
    EXPECT_EQ(done->state(), v1::TRANSFER_STATE_SUCCEEDED) << done->DebugString();
    EXPECT_EQ(done->progress().files_done(), done->progress().files_total());
    EXPECT_EQ(done->progress().files_failed(), 0);
    EXPECT_EQ(done->progress().bytes_done(), done->progress().bytes_total());
    return *std::move(done);
  }

  // a:`source` -> b:`destination` with `preserve`: the transfer and its copy's path.
  std::pair<v1::Transfer, std::string> Copy(const std::string& source,
                                            const std::string& destination,
                                            const v1::PreserveFlags& preserve) {
    const std::string id = StartCopy(source, destination, preserve);
    if (id.empty()) return {};
    return {WaitSucceeded(id), b_->root().Join(destination.substr(1))};
  }

  std::unique_ptr<e2e::LocalCluster> a_;
  std::unique_ptr<e2e::LocalCluster> b_;
};

v1::PreserveFlags ModeAndMtime() {
  v1::PreserveFlags preserve;
  preserve.set_mode(true);
  preserve.set_mtime(true);
  return preserve;
}

TEST_F(PreserveEndToEndTest, HardLinksShareOneInodeAndDirectoriesKeepModeAndMtime) {
  const std::string src = a_->root().Join("tree");
  ASSERT_NO_FATAL_FAILURE(MakeLinkedTree(src));
  v1::PreserveFlags preserve = ModeAndMtime();
  preserve.set_hard_links(true);

  const auto [transfer, dst] = Copy("/tree", "/linked", preserve);
  ASSERT_FALSE(dst.empty());
  // Every name counts once; the further names of an inode were linked, so only the
  // first name's bytes were planned and copied (a name copied after all would have
  // added its bytes to both totals).
  EXPECT_EQ(transfer.progress().files_total(), kTreeEntries);
  EXPECT_EQ(transfer.progress().bytes_total(), kBigSize + kSmallSize + kSingleSize);
  absl::Status same = harness::CompareTrees(src, dst);
  EXPECT_TRUE(same.ok()) << same;

  std::vector<struct stat> firsts;
  for (const std::vector<std::string>* names : {&kBigNames, &kSmallNames}) {
    const struct stat first = Lstat(Join(dst, names->front()));
    EXPECT_EQ(first.st_nlink, Lstat(Join(src, names->front())).st_nlink);
    EXPECT_EQ(first.st_nlink, names->size()) << names->front();
    for (const std::string& name : *names) {
      const struct stat copy = Lstat(Join(dst, name));
      EXPECT_EQ(copy.st_dev, first.st_dev) << name;
      EXPECT_EQ(copy.st_ino, first.st_ino) << name << " is not " << names->front();
    }
    firsts.push_back(first);
  }
  const struct stat single = Lstat(Join(dst, kSingleName));
  EXPECT_EQ(single.st_nlink, 1u);
  EXPECT_NE(firsts[0].st_ino, firsts[1].st_ino);
  EXPECT_NE(single.st_ino, firsts[0].st_ino);
  EXPECT_NE(single.st_ino, firsts[1].st_ino);

  ExpectModesAndMtimesPreserved(src, dst);
  EXPECT_EQ(Lstat(Join(dst, "d2")).st_mode & 07777, 0555u);
  EXPECT_TRUE(TemporaryFiles(b_->root().path()).empty());

  // The big inode's first name went in chunks, once.
  absl::StatusOr<std::string> log = b_->controller()->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ChunkedCommitsBelow(*log, "/linked"), 1) << *log;
}

TEST_F(PreserveEndToEndTest, WithoutHardLinksEveryNameIsItsOwnInode) {
  const std::string src = a_->root().Join("tree");
  ASSERT_NO_FATAL_FAILURE(MakeLinkedTree(src));

  const auto [transfer, dst] = Copy("/tree", "/separate", ModeAndMtime());
  ASSERT_FALSE(dst.empty());
  EXPECT_EQ(transfer.progress().files_total(), kTreeEntries);
  EXPECT_EQ(transfer.progress().bytes_total(),
            kBigNames.size() * kBigSize + kSmallNames.size() * kSmallSize + kSingleSize);
  absl::Status same = harness::CompareTrees(src, dst);
  EXPECT_TRUE(same.ok()) << same;

  std::vector<std::string> names = kBigNames;
  names.insert(names.end(), kSmallNames.begin(), kSmallNames.end());
  names.push_back(kSingleName);
  std::vector<ino_t> inodes;
  for (const std::string& name : names) {
    const struct stat copy = Lstat(Join(dst, name));
    EXPECT_EQ(copy.st_nlink, 1u) << name;
    for (ino_t seen : inodes) EXPECT_NE(copy.st_ino, seen) << name;
    inodes.push_back(copy.st_ino);
  }
  ExpectModesAndMtimesPreserved(src, dst);
  EXPECT_TRUE(TemporaryFiles(b_->root().path()).empty());

  absl::StatusOr<std::string> log = b_->controller()->ReadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ChunkedCommitsBelow(*log, "/separate"), static_cast<int>(kBigNames.size()))
      << *log;
}

TEST_F(PreserveEndToEndTest, OwnersKeptOnlyWhenAskedAndRunningAsRoot) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "copyd sets owners only when it runs as root; this test runs as uid "
                 << geteuid();
  }
  const std::string src = a_->root().Join("owned");
  ASSERT_NO_FATAL_FAILURE(MakeDir(src));
  ASSERT_NO_FATAL_FAILURE(MakeDir(src + "/sub", 0750));
  WriteFile(src + "/sub/file", e2e::RandomBytes(kSmallSize, 4));
  WriteFile(src + "/big", e2e::RandomBytes(kBigSize, 5));  // A chunked commit.
  ASSERT_EQ(symlink("sub/file", (src + "/link").c_str()), 0) << strerror(errno);
  for (const char* name : {"", "sub", "sub/file", "big", "link"}) {
    if (lchown(Join(src, name).c_str(), kOwnerUid, kOwnerGid) == 0) continue;
    if (errno == EINVAL) {
      GTEST_SKIP() << kOwnerUid << ":" << kOwnerGid
                   << " is not mapped in this user namespace (Bazel's linux-sandbox maps "
                      "only the caller's ids; the target is tagged no-sandbox for this)";
    }
    FAIL() << "lchown " << name << ": " << strerror(errno);
  }

  v1::PreserveFlags with_owner = ModeAndMtime();
  with_owner.set_owner(true);
  const std::string kept_id = StartCopy("/owned", "/kept", with_owner);
  const std::string not_kept_id = StartCopy("/owned", "/not-kept", ModeAndMtime());
  ASSERT_FALSE(kept_id.empty());
  ASSERT_FALSE(not_kept_id.empty());
  EXPECT_EQ(WaitSucceeded(kept_id).progress().files_total(), 5);
  EXPECT_EQ(WaitSucceeded(not_kept_id).progress().files_total(), 5);

  // Every entry, the root and the symlink included, has the source's owner or not.
  for (const auto& [destination, kept] : {std::make_pair("kept", true),
                                          std::make_pair("not-kept", false)}) {
    const int compared = ForEachPair(
        src, b_->root().Join(destination),
        [kept = kept](const std::string& rel, const struct stat&, const struct stat& copy) {
          EXPECT_EQ(copy.st_uid == kOwnerUid, kept) << "owner of '" << rel << "'";
          EXPECT_EQ(copy.st_gid == kOwnerGid, kept) << "group of '" << rel << "'";
        });
    EXPECT_EQ(compared, 5) << destination;
  }
  absl::Status same = harness::CompareTrees(src, b_->root().Join("kept"));
  EXPECT_TRUE(same.ok()) << same;
  EXPECT_TRUE(TemporaryFiles(b_->root().path()).empty());
}

}  // namespace
}  // namespace ferry
