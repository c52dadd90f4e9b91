// Clock: the only source of time for leases, retries, timeouts and token buckets.
//
// Production code takes a Clock* in its constructor (never calls absl::Now directly),
// so unit tests drive time with SimulatedClock instead of sleeping. The clock is owned
// by whoever builds the object graph (main or the test) and must outlive its users.
//
// Thread safety: all methods may be called concurrently.
#ifndef FERRY_COMMON_CLOCK_H_
#define FERRY_COMMON_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ferry {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Blocks until `deadline` (by this clock) or until `cond` holds, whichever is first,
  // with `mu` held on return. Returns whether `cond` holds. The caller holds `mu`.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                 absl::Time deadline) const = 0;
};

// Wall-clock time of the machine.
class RealClock : public Clock {
 public:
  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) const override;
};

// Time that moves only when a test advances it. Waiters whose deadline passes are
// woken by Advance.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));
  absl::Time Now() const override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                         absl::Time deadline) const override;
  void Advance(absl::Duration delta);

 private:
  mutable absl::Mutex now_mu_;
  absl::Time now_ ABSL_GUARDED_BY(now_mu_);
};

}  // namespace ferry

#endif  // FERRY_COMMON_CLOCK_H_
