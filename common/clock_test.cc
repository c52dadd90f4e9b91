#include "common/clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace ferry {
namespace {

TEST(SimulatedClockTest, MovesOnlyWhenAdvanced) {
  SimulatedClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(30));
  clock.Advance(-absl::Seconds(5));  // Time never goes backwards.
  EXPECT_EQ(clock.Now(), start + absl::Seconds(30));
}

TEST(SimulatedClockTest, AwaitReturnsFalseOnceDeadlinePasses) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  const absl::Time deadline = clock.Now() + absl::Seconds(10);
  std::thread advancer([&] { clock.Advance(absl::Seconds(11)); });
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(clock.AwaitWithDeadline(&mu, absl::Condition(&flag), deadline));
  advancer.join();
}

TEST(SimulatedClockTest, AwaitReturnsTrueWhenConditionHolds) {
  SimulatedClock clock;
  absl::Mutex mu;
  bool flag = false;
  std::thread setter([&] {
    absl::MutexLock lock(&mu);
    flag = true;
  });
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(clock.AwaitWithDeadline(&mu, absl::Condition(&flag),
                                      clock.Now() + absl::Hours(1)));
  setter.join();
}

}  // namespace
}  // namespace ferry
