#include "copyd/rate_limiter.h"

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace ferry::copyd {
namespace {

constexpr int64_t kMinBurst = 64 << 10;

google::protobuf::RepeatedPtrField<v1::RateLimit> Limits(
    std::initializer_list<std::pair<std::string, double>> limits) {
  google::protobuf::RepeatedPtrField<v1::RateLimit> out;
  for (const auto& [group, rate] : limits) {
    v1::RateLimit* limit = out.Add();
    limit->set_flow_group(group);
    limit->set_bytes_per_second(rate);
  }
  return out;
}

class RateLimiterTest : public ::testing::Test {
 protected:
  // Runs Acquire on a thread, advancing simulated time in steps until it returns;
  // the simulated time it returned at.
  absl::StatusOr<absl::Time> AcquireAdvancing(const std::string& group, int64_t bytes,
                                              absl::Duration step) {
    absl::Notification done;
    absl::Status status;
    absl::Time finished;
    std::atomic<bool> give_up_waiting{false};
    std::thread thread([&] {
      status = limiter_.Acquire(group, bytes, &give_up_waiting);
      finished = clock_.Now();
      done.Notify();
    });
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(2)) &&
           absl::Now() < give_up) {
      clock_.Advance(step);
    }
    give_up_waiting = true;  // Frees the thread if the wait above gave up.
    thread.join();
    if (!status.ok()) return status;
    return finished;
  }

  SimulatedClock clock_;
  RateLimiter limiter_{&clock_, RateLimiterOptions{absl::Seconds(30), absl::Milliseconds(50),
                                                   kMinBurst}};
};

TEST_F(RateLimiterTest, UnknownAndEmptyGroupsPassAtOnce) {
  EXPECT_TRUE(limiter_.Acquire("", 1 << 30, nullptr).ok());
  EXPECT_TRUE(limiter_.Acquire("never-limited", 1 << 30, nullptr).ok());
  EXPECT_EQ(limiter_.RateOf("never-limited"), 0);
}

TEST_F(RateLimiterTest, LimitedGroupPaysAtItsRate) {
  limiter_.Update(Limits({{"g", 1e6}}));
  EXPECT_EQ(limiter_.RateOf("g"), 1e6);
  const absl::Time start = clock_.Now();
  // The bucket starts full (the burst); a megabyte more puts it in debt, which the
  // next request waits out at 1 MB/s.
  ASSERT_TRUE(limiter_.Acquire("g", kMinBurst, nullptr).ok());
  ASSERT_TRUE(AcquireAdvancing("g", 1'000'000, absl::Milliseconds(100)).ok());
  absl::StatusOr<absl::Time> finished = AcquireAdvancing("g", 1, absl::Milliseconds(100));
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_GE(*finished - start, absl::Seconds(1) - absl::Milliseconds(100));
  EXPECT_LT(*finished - start, absl::Seconds(5));
}

TEST_F(RateLimiterTest, AbortEndsTheWaitWithoutTakingTokens) {
  limiter_.Update(Limits({{"g", 1}}));
  ASSERT_TRUE(limiter_.Acquire("g", kMinBurst, nullptr).ok());
  std::atomic<bool> abort{false};
  absl::Status status;
  std::thread thread([&] { status = limiter_.Acquire("g", 1 << 20, &abort); });
  abort = true;
  thread.join();
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
}

TEST_F(RateLimiterTest, AbsentGroupKeepsItsRateUntilKeepAbsentThenIsUnlimited) {
  limiter_.Update(Limits({{"g", 1e6}, {"h", 2e6}}));
  clock_.Advance(absl::Seconds(20));
  limiter_.Update(Limits({{"h", 2e6}}));
  EXPECT_EQ(limiter_.RateOf("g"), 1e6);
  clock_.Advance(absl::Seconds(10));
  limiter_.Update(Limits({{"h", 3e6}}));
  EXPECT_EQ(limiter_.RateOf("g"), 0);
  EXPECT_EQ(limiter_.RateOf("h"), 3e6);
  EXPECT_TRUE(limiter_.Acquire("g", 1 << 30, nullptr).ok());
}

TEST_F(RateLimiterTest, RateZeroMeansNoLimitAtOnce) {
  limiter_.Update(Limits({{"g", 1e6}}));
  limiter_.Update(Limits({{"g", 0}}));
  EXPECT_EQ(limiter_.RateOf("g"), 0);
  EXPECT_TRUE(limiter_.Acquire("g", 1 << 30, nullptr).ok());
}

TEST_F(RateLimiterTest, InvalidLimitsAreIgnored) {
  limiter_.Update(Limits({{"g", 1e6}}));
  limiter_.Update(Limits({{"g", -5},
                          {"g", std::numeric_limits<double>::infinity()},
                          {"", 1e6}}));
  EXPECT_EQ(limiter_.RateOf("g"), 1e6);
  EXPECT_EQ(limiter_.RateOf(""), 0);
}

TEST_F(RateLimiterTest, ThreadsOfOneGroupShareItsRate) {
  limiter_.Update(Limits({{"g", 1e6}}));
  ASSERT_TRUE(limiter_.Acquire("g", kMinBurst, nullptr).ok());
  const absl::Time start = clock_.Now();
  std::atomic<int> done{0};
  std::atomic<bool> give_up_waiting{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      if (limiter_.Acquire("g", 1'000'000, &give_up_waiting).ok()) ++done;
    });
  }
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (done < 2 && absl::Now() < give_up) {
    clock_.Advance(absl::Milliseconds(100));
    absl::Notification().WaitForNotificationWithTimeout(absl::Milliseconds(2));
  }
  give_up_waiting = true;
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(done, 2);
  // Both megabytes came out of the one bucket: the next byte waits until 2 s of
  // tokens have been earned.
  absl::StatusOr<absl::Time> finished = AcquireAdvancing("g", 1, absl::Milliseconds(100));
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_GE(*finished - start, absl::Seconds(2) - absl::Milliseconds(100));
}

}  // namespace
}  // namespace ferry::copyd
