#include "common/clock.h"

#include <algorithm>

namespace ferry {

absl::Time RealClock::Now() const { return absl::Now(); }

bool RealClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                  absl::Time deadline) const {
  return mu->AwaitWithDeadline(cond, deadline);
}

SimulatedClock::SimulatedClock(absl::Time start) : now_(start) {}

absl::Time SimulatedClock::Now() const {
  absl::MutexLock lock(&now_mu_);
  return now_;
}

bool SimulatedClock::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                       absl::Time deadline) const {
  // Simulated deadlines are checked in short real-time slices so that a test thread
  // calling Advance() releases waiters without any real sleeping on its side.
  while (!cond.Eval()) {
    if (Now() >= deadline) return false;
    mu->AwaitWithTimeout(cond, absl::Milliseconds(1));
  }
  return true;
}

void SimulatedClock::Advance(absl::Duration delta) {
  absl::MutexLock lock(&now_mu_);
  now_ += std::max(delta, absl::ZeroDuration());
}

}  // namespace ferry
