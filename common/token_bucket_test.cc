#include "common/token_bucket.h"

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

constexpr absl::Duration kRealTimeLimit = absl::Seconds(20);

// A SimulatedClock that knows which threads wait in AwaitWithDeadline and whether each
// has looked at its condition since time last moved, so a test advances time only when
// every worker is really blocked: no tokens are earned unseen, and nothing sleeps.
class ParkingClock : public Clock {
 public:
  absl::Time Now() const override { return clock_.Now(); }

  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) const override {
    const int64_t id = Park();
    for (;;) {
      const absl::Time now = Now();
      if (cond.Eval() || now >= deadline) break;
      MarkSeen(id, now);
      mu->AwaitWithTimeout(cond, absl::Microseconds(200));
    }
    Unpark(id);
    return cond.Eval();
  }

  void Advance(absl::Duration delta) { clock_.Advance(delta); }

  // Waits (bounded, real time) until `threads` waiters have each found their condition
  // false at the current time.
  bool WaitUntilParked(int threads) const {
    absl::MutexLock lock(&mu_);
    auto parked = [this, threads]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (static_cast<int>(seen_.size()) != threads) return false;
      const absl::Time now = Now();
      for (const auto& [id, seen] : seen_) {
        if (seen != now) return false;
      }
      return true;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&parked), kRealTimeLimit);
  }

 private:
  int64_t Park() const {
    absl::MutexLock lock(&mu_);
    seen_[next_id_] = absl::InfinitePast();
    return next_id_++;
  }
  void MarkSeen(int64_t id, absl::Time now) const {
    absl::MutexLock lock(&mu_);
    seen_[id] = now;
  }
  void Unpark(int64_t id) const {
    absl::MutexLock lock(&mu_);
    seen_.erase(id);
  }

  SimulatedClock clock_;
  mutable absl::Mutex mu_;
  mutable std::map<int64_t, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
  mutable int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

// One Acquire on its own thread, whose result the test can wait for.
class AsyncAcquire {
 public:
  AsyncAcquire(TokenBucket* bucket, int64_t bytes, const std::atomic<bool>* abort = nullptr)
      : thread_([this, bucket, bytes, abort] {
          absl::Status status = bucket->Acquire(bytes, abort);
          absl::MutexLock lock(&mu_);
          status_ = std::move(status);
          done_ = true;
        }) {}
  ~AsyncAcquire() { thread_.join(); }

  bool done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }
  // Waits (bounded, real time) for the result.
  absl::Status Result() {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), kRealTimeLimit)) {
      return absl::DeadlineExceededError("Acquire did not return");
    }
    return status_;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(TokenBucketTest, StartsUnlimitedAndRateZeroMeansUnlimited) {
  SimulatedClock clock;
  TokenBucket bucket(&clock);
  EXPECT_EQ(bucket.bytes_per_second(), 0);
  EXPECT_TRUE(bucket.Acquire(int64_t{1} << 40, nullptr).ok());
  EXPECT_TRUE(bucket.TryAcquire(int64_t{1} << 40));

  ASSERT_TRUE(bucket.SetRate(1000, 1000).ok());
  EXPECT_TRUE(bucket.TryAcquire(1000));
  EXPECT_FALSE(bucket.TryAcquire(1));
  ASSERT_TRUE(bucket.SetRate(0, 0).ok());
  EXPECT_TRUE(bucket.TryAcquire(int64_t{1} << 40));
}

TEST(TokenBucketTest, RejectsBadArguments) {
  SimulatedClock clock;
  TokenBucket bucket(&clock);
  EXPECT_EQ(bucket.SetRate(-1, 10).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bucket.SetRate(std::nan(""), 10).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bucket.SetRate(HUGE_VAL, 10).code(), absl::StatusCode::kInvalidArgument);
  const absl::Status burst = bucket.SetRate(10, -1);
  EXPECT_EQ(burst.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(burst.message().find("burst_bytes"), absl::string_view::npos);
  EXPECT_EQ(bucket.bytes_per_second(), 0);  // Unchanged.
  EXPECT_EQ(bucket.Acquire(-1, nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(bucket.TryAcquire(-1));
}

TEST(TokenBucketTest, StartsFullThenRefillsAtTheRateUpToTheBurst) {
  SimulatedClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 500).ok());
  EXPECT_TRUE(bucket.TryAcquire(500));
  EXPECT_FALSE(bucket.TryAcquire(1));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_FALSE(bucket.TryAcquire(101));
  EXPECT_TRUE(bucket.TryAcquire(100));
  clock.Advance(absl::Seconds(10));  // Earns 10,000 but keeps only the burst.
  EXPECT_TRUE(bucket.TryAcquire(500));
  EXPECT_FALSE(bucket.TryAcquire(1));
}

TEST(TokenBucketTest, RequestLargerThanTheBurstPassesAndLeavesDebt) {
  SimulatedClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 100).ok());
  EXPECT_TRUE(bucket.TryAcquire(1000));  // 100 in the bucket: debt of 900.
  clock.Advance(absl::Milliseconds(900));
  EXPECT_FALSE(bucket.TryAcquire(1));  // Debt repaid, nothing saved yet.
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(bucket.TryAcquire(1));
}

TEST(TokenBucketTest, AverageRateOfLargeBlocksUnderASmallBurstIsWithinOnePercent) {
  SimulatedClock clock;
  TokenBucket bucket(&clock);
  constexpr double kRate = 10 << 20;
  constexpr int64_t kBlock = 1 << 20;
  ASSERT_TRUE(bucket.SetRate(kRate, 64 << 10).ok());
  const absl::Time start = clock.Now();
  int64_t sent = 0;
  while (clock.Now() - start < absl::Seconds(100)) {
    if (bucket.TryAcquire(kBlock)) {
      sent += kBlock;
    } else {
      clock.Advance(absl::Milliseconds(1));
    }
  }
  EXPECT_NEAR(static_cast<double>(sent), kRate * 100, kRate * 100 * 0.01);
}

TEST(TokenBucketTest, AcquireWaitsForTheTokensByTheClock) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 100).ok());
  ASSERT_TRUE(bucket.TryAcquire(100));
  AsyncAcquire acquire(&bucket, 100);
  ASSERT_TRUE(clock.WaitUntilParked(1));
  EXPECT_EQ(bucket.waiting(), 1);
  clock.Advance(absl::Milliseconds(99));
  ASSERT_TRUE(clock.WaitUntilParked(1));
  EXPECT_FALSE(acquire.done());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(acquire.Result().ok());
  EXPECT_EQ(bucket.waiting(), 0);
  EXPECT_FALSE(bucket.TryAcquire(1));  // The waiter took what was earned.
}

TEST(TokenBucketTest, ABlockingRequestAboveTheBurstMakesTheNextOneRepayTheDebt) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 100).ok());
  ASSERT_TRUE(bucket.Acquire(1000, nullptr).ok());  // Full bucket: passes, debt of 900.
  AsyncAcquire next(&bucket, 1);
  ASSERT_TRUE(clock.WaitUntilParked(1));
  clock.Advance(absl::Milliseconds(900));
  ASSERT_TRUE(clock.WaitUntilParked(1));
  EXPECT_FALSE(next.done());
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(next.Result().ok());
}

TEST(TokenBucketTest, RateChangeAppliesToAThreadAlreadyWaiting) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(100, 1000).ok());
  ASSERT_TRUE(bucket.TryAcquire(1000));
  AsyncAcquire acquire(&bucket, 1000);  // 10 s at the old rate.
  ASSERT_TRUE(clock.WaitUntilParked(1));
  ASSERT_TRUE(bucket.SetRate(10000, 1000).ok());  // 0.1 s at the new one.
  ASSERT_TRUE(clock.WaitUntilParked(1));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(acquire.Result().ok());
}

TEST(TokenBucketTest, SwitchingToUnlimitedReleasesEveryWaiterWithoutTime) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1, 1).ok());
  ASSERT_TRUE(bucket.TryAcquire(1));
  std::vector<std::unique_ptr<AsyncAcquire>> waiters;
  for (int i = 0; i < 3; ++i) waiters.push_back(std::make_unique<AsyncAcquire>(&bucket, 1000));
  ASSERT_TRUE(clock.WaitUntilParked(3));
  ASSERT_TRUE(bucket.SetRate(0, 0).ok());
  for (auto& waiter : waiters) EXPECT_TRUE(waiter->Result().ok());
}

TEST(TokenBucketTest, AbortCancelsAWaiterWithoutTimeAndTakesNothing) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 100).ok());
  ASSERT_TRUE(bucket.TryAcquire(100));
  std::atomic<bool> abort{false};
  AsyncAcquire acquire(&bucket, 100, &abort);
  ASSERT_TRUE(clock.WaitUntilParked(1));
  abort = true;
  EXPECT_EQ(acquire.Result().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(bucket.waiting(), 0);
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(bucket.TryAcquire(100));  // The cancelled request took nothing.
  EXPECT_EQ(bucket.Acquire(1, &abort).code(), absl::StatusCode::kCancelled);
}

TEST(TokenBucketTest, AbortedWaiterInTheMiddleOfTheQueueDoesNotBlockTheOthers) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  ASSERT_TRUE(bucket.SetRate(1000, 100).ok());
  ASSERT_TRUE(bucket.TryAcquire(100));
  std::atomic<bool> abort{false};
  AsyncAcquire first(&bucket, 100);
  ASSERT_TRUE(clock.WaitUntilParked(1));
  AsyncAcquire second(&bucket, 100, &abort);
  ASSERT_TRUE(clock.WaitUntilParked(2));
  AsyncAcquire third(&bucket, 100);
  ASSERT_TRUE(clock.WaitUntilParked(3));
  abort = true;
  EXPECT_EQ(second.Result().code(), absl::StatusCode::kCancelled);
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(first.Result().ok());
  ASSERT_TRUE(clock.WaitUntilParked(1));
  EXPECT_FALSE(third.done());
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(third.Result().ok());
}

TEST(TokenBucketTest, ThreadsSharingABucketGetItsRateInTotalAndEqually) {
  ParkingClock clock;
  TokenBucket bucket(&clock);
  constexpr double kRate = 1 << 20;
  constexpr int64_t kChunk = 16 << 10;
  constexpr int kThreads = 4;
  constexpr absl::Duration kWindow = absl::Seconds(10);
  ASSERT_TRUE(bucket.SetRate(kRate, 64 << 10).ok());

  std::atomic<bool> stop{false};
  std::vector<std::atomic<int64_t>> sent(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (bucket.Acquire(kChunk, &stop).ok()) sent[i] += kChunk;
    });
  }
  const absl::Time end = clock.Now() + kWindow;
  bool all_parked = true;
  while (all_parked && clock.Now() < end) {
    all_parked = clock.WaitUntilParked(kThreads);
    clock.Advance(absl::Milliseconds(8));
  }
  stop = true;
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(all_parked);

  int64_t total = 0;
  for (const auto& bytes : sent) total += bytes;
  const double expected = kRate * absl::ToDoubleSeconds(kWindow);
  EXPECT_NEAR(static_cast<double>(total), expected, expected * 0.01);
  for (const auto& bytes : sent) {
    EXPECT_NEAR(static_cast<double>(bytes), expected / kThreads, expected / kThreads * 0.05);
  }
}

}  // namespace
}  // namespace ferry
