#include "copyd/orphan_sweeper.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/mem_file_system.h"
#include "storage/path.h"
#include "storage/test_util.h"

namespace ferry::copyd {
namespace {

using ::testing::UnorderedElementsAre;
using storage::testing::WalkAll;
using storage::testing::WriteFile;

class OrphanSweeperTest : public ::testing::Test {
 protected:
  // A file whose mtime is `age` before the clock's now.
  void Make(const std::string& path, absl::Duration age) {
    const std::string dir(storage::Dirname(path));
    if (!dir.empty()) ASSERT_TRUE(fs_.MakeDirs(dir, 0755).ok());
    ASSERT_TRUE(WriteFile(fs_, path, "bytes").ok());
    ASSERT_TRUE(fs_.SetModeAndMtime(path, 0600, absl::ToUnixNanos(clock_.Now() - age)).ok());
  }

  std::vector<std::string> Files() {
    absl::StatusOr<std::vector<std::string>> tree = WalkAll(fs_, "");
    EXPECT_TRUE(tree.ok()) << tree.status();
    std::vector<std::string> files;
    for (const std::string& path : tree.value_or(std::vector<std::string>())) {
      absl::StatusOr<storage::FileInfo> info = fs_.Stat(path);
      if (info.ok() && info->type == storage::FileType::kRegular) files.push_back(path);
    }
    return files;
  }

  storage::MemFileSystem fs_;
  SimulatedClock clock_;
};

TEST_F(OrphanSweeperTest, RemovesOnlyOldFerryTemporaryFiles) {
  Make("a/.ferry-tmp.x.0123456789abcdef", absl::Hours(7));  // Killed worker's file.
  Make("a/b/.ferry-tmp.big.t-0000000000000001-0", absl::Hours(7));  // Shared, stale.
  Make("a/.ferry-tmp.y.0123456789abcdef", absl::Minutes(5));  // A live copy's file.
  Make("a/x", absl::Hours(100));                               // Data, however old.
  Make("a/.ferry-tmpx", absl::Hours(100));                     // Not the prefix.
  OrphanSweeper sweeper(&fs_, &clock_, absl::Hours(6), absl::ZeroDuration());
  const SweepStats stats = sweeper.SweepOnce();
  EXPECT_EQ(stats.removed, 2);
  EXPECT_EQ(stats.errors, 0);
  EXPECT_THAT(Files(), UnorderedElementsAre("a/.ferry-tmp.y.0123456789abcdef", "a/x",
                                            "a/.ferry-tmpx"));
}

TEST_F(OrphanSweeperTest, SweepsAtStartThenEveryIntervalOfClockTime) {
  Make(".ferry-tmp.a.0123456789abcdef", absl::Hours(7));
  OrphanSweeper sweeper(&fs_, &clock_, absl::Hours(6), absl::Hours(1));
  sweeper.Start();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (sweeper.sweeps() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(sweeper.sweeps(), 1);
  EXPECT_TRUE(Files().empty());
  // A file orphaned later goes at the next sweep, once it is old enough.
  Make(".ferry-tmp.b.0123456789abcdef", absl::Hours(5) + absl::Minutes(30));
  clock_.Advance(absl::Hours(1));
  while (sweeper.sweeps() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(sweeper.sweeps(), 2);
  EXPECT_TRUE(Files().empty());
  sweeper.Stop();
}

}  // namespace
}  // namespace ferry::copyd
