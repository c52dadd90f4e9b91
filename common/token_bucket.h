// TokenBucket: limits the bytes many threads together send, on an injected Clock.
//
// Purpose: copyd keeps one bucket per flow group and every task of that group acquires
// the bytes it is about to put on the wire (DataService payload) before sending them, so
// the group's rate holds across all of its concurrent tasks.
//
// Model: tokens (bytes) accrue at `bytes_per_second` up to `burst_bytes`. A request
// waits until the bucket holds min(bytes, burst_bytes) tokens, then takes all `bytes`;
// a request larger than the burst drives the bucket into debt, which later requests
// repay by waiting. So a 1 MiB block passes under a 64 KiB burst, and the average rate
// stays right: over any window of length T at most burst + rate * T + one request pass.
// Waiters are served in arrival order (FIFO), so a large request is never starved by a
// stream of small ones and the threads sharing a bucket get its rate in total.
//
// Rates: 0 means unlimited (as in worker_service.proto's RateLimit). A bucket starts
// unlimited; going from unlimited to a limit starts it full (burst_bytes tokens). A rate
// change applies at once, also to threads already waiting: tokens earned so far are
// counted at the old rate, the balance is capped at the new burst, and debt is kept.
//
// Abort: Acquire returns CANCELLED when *abort becomes true while it waits. The flag is
// an atomic nobody signals, so it is polled: at least every kAbortPollInterval of clock
// time, and with SimulatedClock also whenever the clock re-checks its waiters (every
// millisecond of real time), so tests need not advance time to abort.
//
// Ownership: the clock is not owned and must outlive the bucket. Thread safety: all
// methods may be called concurrently; the bucket must outlive every Acquire in flight.
#ifndef FERRY_COMMON_TOKEN_BUCKET_H_
#define FERRY_COMMON_TOKEN_BUCKET_H_

#include <atomic>
#include <cstdint>
#include <deque>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace ferry {

class TokenBucket {
 public:
  static constexpr absl::Duration kAbortPollInterval = absl::Milliseconds(10);

  // Starts unlimited.
  explicit TokenBucket(const Clock* clock);

  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // `bytes_per_second` >= 0 (0 = unlimited) and finite, `burst_bytes` >= 0; otherwise
  // INVALID_ARGUMENT naming the argument, and the bucket is unchanged. A burst of 0
  // saves nothing: every request is paid for after the fact.
  absl::Status SetRate(double bytes_per_second, int64_t burst_bytes);

  // Blocks until `bytes` may be sent, then takes them. OK at once for bytes == 0 or an
  // unlimited bucket. CANCELLED when `abort` (may be null: never) is or becomes true
  // before the bytes are granted: then nothing is taken. INVALID_ARGUMENT for bytes < 0.
  absl::Status Acquire(int64_t bytes, const std::atomic<bool>* abort);

  // Takes `bytes` if Acquire would grant them now without waiting and nobody is queued
  // before us; false (nothing taken) otherwise, and for bytes < 0.
  bool TryAcquire(int64_t bytes);

  // Current settings, and the number of threads waiting in Acquire (for metrics).
  double bytes_per_second() const;
  int64_t burst_bytes() const;
  int waiting() const;

 private:
  // Adds the tokens earned since the last refill; a clock that went back earns none.
  void RefillLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `bytes` if the balance allows it now; refills first.
  bool TakeLocked(int64_t bytes, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the balance will allow `bytes` at the current rate (rate must be > 0).
  absl::Time ReadyTimeLocked(int64_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveQueueLocked(uint64_t ticket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  mutable absl::Mutex mu_;
  double bytes_per_second_ ABSL_GUARDED_BY(mu_) = 0;
  double burst_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;  // Negative while in debt.
  absl::Time refilled_at_ ABSL_GUARDED_BY(mu_);
  // Bumped by SetRate so waiters recompute their wake-up time.
  uint64_t rate_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Tickets of the threads in Acquire, in arrival order; only the front may take.
  std::deque<uint64_t> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ferry

#endif  // FERRY_COMMON_TOKEN_BUCKET_H_
