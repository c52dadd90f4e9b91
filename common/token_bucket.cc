#include "common/token_bucket.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace ferry {
namespace {

// Absorbs floating-point rounding, so a waiter woken at its computed ready time is not
// sent back to wait for a few billionths of a byte.
constexpr double kSlackBytes = 1e-3;

absl::Status Aborted() { return absl::CancelledError("aborted while waiting for bandwidth"); }

}  // namespace

TokenBucket::TokenBucket(const Clock* clock) : clock_(clock), refilled_at_(clock->Now()) {}

absl::Status TokenBucket::SetRate(double bytes_per_second, int64_t burst_bytes) {
  if (!std::isfinite(bytes_per_second) || bytes_per_second < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bytes_per_second must be finite and >= 0, got ", bytes_per_second));
  }
  if (burst_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("burst_bytes must be >= 0, got ", burst_bytes));
  }
  absl::MutexLock lock(&mu_);
  RefillLocked(clock_->Now());
  if (bytes_per_second_ == 0) tokens_ = static_cast<double>(burst_bytes);
  bytes_per_second_ = bytes_per_second;
  burst_bytes_ = static_cast<double>(burst_bytes);
  tokens_ = std::min(tokens_, burst_bytes_);
  ++rate_generation_;
  return absl::OkStatus();
}

absl::Status TokenBucket::Acquire(int64_t bytes, const std::atomic<bool>* abort) {
  if (bytes < 0) return absl::InvalidArgumentError(absl::StrCat("bytes must be >= 0, got ", bytes));
  auto aborted = [abort] { return abort != nullptr && abort->load(); };
  if (aborted()) return Aborted();
  if (bytes == 0) return absl::OkStatus();

  absl::MutexLock lock(&mu_);
  if (queue_.empty() && TakeLocked(bytes, clock_->Now())) return absl::OkStatus();
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  for (;;) {
    const absl::Time now = clock_->Now();
    const bool at_front = queue_.front() == ticket;
    if (at_front && TakeLocked(bytes, now)) {
      queue_.pop_front();
      return absl::OkStatus();
    }
    absl::Time wake = now + kAbortPollInterval;
    if (at_front) wake = std::min(wake, ReadyTimeLocked(bytes));
    const uint64_t generation = rate_generation_;
    auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return aborted() || rate_generation_ != generation || (!at_front && queue_.front() == ticket);
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&woken), wake);
    if (aborted()) {
      LeaveQueueLocked(ticket);
      return Aborted();
    }
  }
}

bool TokenBucket::TryAcquire(int64_t bytes) {
  if (bytes < 0) return false;
  absl::MutexLock lock(&mu_);
  return queue_.empty() && TakeLocked(bytes, clock_->Now());
}

double TokenBucket::bytes_per_second() const {
  absl::MutexLock lock(&mu_);
  return bytes_per_second_;
}

int64_t TokenBucket::burst_bytes() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(burst_bytes_);
}

int TokenBucket::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

void TokenBucket::RefillLocked(absl::Time now) {
  if (bytes_per_second_ > 0 && now > refilled_at_) {
    const double earned = bytes_per_second_ * absl::ToDoubleSeconds(now - refilled_at_);
    tokens_ = std::min(burst_bytes_, tokens_ + earned);
  }
  refilled_at_ = now;
}

bool TokenBucket::TakeLocked(int64_t bytes, absl::Time now) {
  RefillLocked(now);
  if (bytes_per_second_ == 0) return true;
  const double needed = std::min(static_cast<double>(bytes), burst_bytes_);
  if (tokens_ + kSlackBytes < needed) return false;
  tokens_ -= static_cast<double>(bytes);
  return true;
}

absl::Time TokenBucket::ReadyTimeLocked(int64_t bytes) const {
  const double needed = std::min(static_cast<double>(bytes), burst_bytes_);
  return refilled_at_ + absl::Seconds((needed - tokens_) / bytes_per_second_);
}

void TokenBucket::LeaveQueueLocked(uint64_t ticket) {
  queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
}

}  // namespace ferry
