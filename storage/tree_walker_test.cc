// Unit tests of the walk machinery below the conformance suite: NameList's order and
// search against std::string's, and the walker's reuse of buffers (the caller's FileInfo,
// its path buffer, name lists of popped directories) on both backends and on a real
// directory larger than one listing buffer.
#include "storage/tree_walker.h"

#include <sys/stat.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/file_system.h"
#include "storage/path.h"
#include "storage/posix_file_system.h"
#include "storage/test_util.h"

namespace ferry::storage {
namespace {

using ::testing::ElementsAre;
using testing::Backend;
using testing::BuildTree;
using testing::MakeTempDir;
using testing::NewTestFileSystem;
using testing::RawWriteFile;
using testing::WalkAll;

// Names of 1..20 bytes over an alphabet that has bytes above 0x7f (signed-char traps)
// and long shared prefixes (so the 8-byte sort keys tie), without duplicates.
std::vector<std::string> RandomNames(std::mt19937* rng, int count) {
  const std::string alphabet = std::string("ab\x01\x7f\x80\xfe\xff", 7);
  std::uniform_int_distribution<size_t> len(1, 20), pick(0, alphabet.size() - 1);
  std::set<std::string> names;
  while (static_cast<int>(names.size()) < count) {
    std::string name = (*rng)() % 2 == 0 ? "prefix12" : "";
    for (size_t i = len(*rng); i > 0; --i) name.push_back(alphabet[pick(*rng)]);
    names.insert(name);
  }
  std::vector<std::string> shuffled(names.begin(), names.end());
  std::shuffle(shuffled.begin(), shuffled.end(), *rng);
  return shuffled;
}

TEST(NameListTest, SortsAndSearchesLikeStdString) {
  std::mt19937 rng(20261125);
  const std::vector<std::string> names = RandomNames(&rng, 3000);
  NameList list;
  for (const std::string& name : names) list.Add(name);
  list.Sort();
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());
  ASSERT_EQ(list.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(list[i], want[i]) << i;
    EXPECT_EQ(list[i].data()[list[i].size()], '\0');  // NUL-terminated for *at() calls.
  }

  std::vector<std::string> probes = RandomNames(&rng, 1000);  // Mostly absent.
  for (size_t i = 0; i < want.size(); i += 7) {
    probes.push_back(want[i]);
    probes.push_back(want[i].substr(0, want[i].size() - 1));
    probes.push_back(want[i] + "\x01");
  }
  for (const std::string& probe : probes) {
    const size_t expected = static_cast<size_t>(
        std::upper_bound(want.begin(), want.end(), probe) - want.begin());
    EXPECT_EQ(list.UpperBound(probe), expected);
  }
}

TEST(NameListTest, ClearEmptiesForReuse) {
  NameList list;
  list.Add("b");
  list.Add("a");
  list.Clear();
  EXPECT_EQ(list.size(), 0u);
  list.Add("d");
  list.Add("c");
  list.Sort();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], "c");
  EXPECT_EQ(list[1], "d");
  EXPECT_EQ(list.UpperBound("a"), 0u);
  EXPECT_EQ(list.UpperBound("c"), 1u);
  EXPECT_EQ(list.UpperBound("e"), 2u);
}

class WalkReuseTest : public ::testing::TestWithParam<Backend> {};

// The walker fills the caller's FileInfo in place: nothing of the previous entry (a
// longer path, a symlink's text) may survive into the next.
TEST_P(WalkReuseTest, EveryFieldOfTheReusedEntryIsOverwritten) {
  std::unique_ptr<FileSystem> fs = NewTestFileSystem(GetParam());
  ASSERT_TRUE(BuildTree(*fs, {"d/", "d/a->some/long/target", "d/b=xy", "d/c/"}).ok());
  auto walker = fs->Walk("d", "");
  ASSERT_TRUE(walker.ok()) << walker.status();
  FileInfo info;
  info.path = std::string(100, 'p');
  info.symlink_target = "stale";
  ASSERT_TRUE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "d/a");
  EXPECT_EQ(info.type, FileType::kSymlink);
  EXPECT_EQ(info.symlink_target, "some/long/target");
  ASSERT_TRUE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "d/b");
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.size, 2u);
  EXPECT_EQ(info.symlink_target, "");
  ASSERT_TRUE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "d/c");
  EXPECT_EQ(info.type, FileType::kDirectory);
  EXPECT_FALSE(*(*walker)->Next(&info));
  EXPECT_EQ(info.path, "d/c");  // The end leaves the last entry alone.
  EXPECT_EQ((*walker)->Cursor(), EncodeWalkCursor("c"));
}

// Sibling directories of different sizes at several depths: each reuses the name
// buffers of the one before it at that depth, and the path buffer shrinks and grows.
TEST_P(WalkReuseTest, SiblingDirectoriesReuseBuffersCorrectly) {
  std::unique_ptr<FileSystem> fs = NewTestFileSystem(GetParam());
  std::vector<std::string> specs, want;
  for (const char* top_name : {"a", "bb"}) {
    const std::string top = top_name;
    specs.push_back(top + "/");
    want.push_back(top);
    for (int sub = 0; sub < 3; ++sub) {
      const std::string dir = absl::StrCat(top, "/s", sub);
      specs.push_back(dir + "/");
      want.push_back(dir);
      for (int f = 0; f < 5 - 2 * sub; ++f) {
        const std::string file = absl::StrCat(dir, "/file-with-a-longer-name-", f);
        specs.push_back(file + "=x");
        want.push_back(file);
      }
    }
  }
  ASSERT_TRUE(BuildTree(*fs, specs).ok());
  std::vector<std::string> cursors;
  EXPECT_EQ(*WalkAll(*fs, "", "", &cursors), want);
  ASSERT_EQ(cursors.size(), want.size());
  for (size_t i = 0; i < want.size(); i += 3) {
    EXPECT_EQ(*WalkAll(*fs, "", cursors[i]),
              std::vector<std::string>(want.begin() + i + 1, want.end()))
        << "after " << want[i];
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, WalkReuseTest,
                         ::testing::Values(Backend::kPosix, Backend::kMem),
                         [](const auto& info) { return testing::BackendName(info.param); });

// A directory whose listing takes several getdents64 calls (about 240 KiB of entries
// against a 32 KiB buffer), made behind ferry's back; then resumed from its middle.
TEST(PosixWalkTest, DirectoryLargerThanOneListingBuffer) {
  const std::string root = MakeTempDir();
  ASSERT_EQ(mkdir((root + "/big").c_str(), 0755), 0);
  std::vector<std::string> want;
  for (int i = 2999; i >= 0; --i) {
    const std::string name = absl::StrCat("big/", std::string(50, 'n'), "-", i);
    RawWriteFile(root + "/" + name, "");
    want.push_back(name);
  }
  std::sort(want.begin(), want.end());
  absl::StatusOr<std::unique_ptr<FileSystem>> fs = NewPosixFileSystem(root);
  ASSERT_TRUE(fs.ok()) << fs.status();
  std::vector<std::string> cursors;
  EXPECT_EQ(*WalkAll(**fs, "big", "", &cursors), want);
  ASSERT_EQ(cursors.size(), want.size());
  EXPECT_EQ(*WalkAll(**fs, "big", cursors[1499]),
            std::vector<std::string>(want.begin() + 1500, want.end()));
  EXPECT_THAT(*WalkAll(**fs, "big", cursors[2998]), ElementsAre(want.back()));
}

}  // namespace
}  // namespace ferry::storage
