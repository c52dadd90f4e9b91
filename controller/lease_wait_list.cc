#include "controller/lease_wait_list.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"

namespace ferry::controller {

LeaseWaitList::LeaseWaitList(const Clock* clock, LeaseFn lease, size_t max_calls)
    : clock_(clock), lease_(std::move(lease)), max_calls_(max_calls) {
  thread_ = std::thread([this] { Loop(); });
}

LeaseWaitList::~LeaseWaitList() {
  std::vector<std::shared_ptr<Call>> left;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  {
    absl::MutexLock lock(&mu_);
    left.swap(calls_);
  }
  for (const auto& call : left) {
    call->done(absl::UnavailableError("controller shutting down; lease again"));
  }
}

void LeaseWaitList::Hold(std::shared_ptr<Call> call) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && calls_.size() < max_calls_) {
      calls_.push_back(std::move(call));
      // A task made runnable between the caller's empty lease and now woke nobody.
      woken_ = true;
      return;
    }
  }
  v1::LeaseTasksResponse empty;
  empty.set_retry_after_ms(kFullRetryAfterMs);
  call->done(std::move(empty));
}

void LeaseWaitList::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

size_t LeaseWaitList::held() const {
  absl::MutexLock lock(&mu_);
  return calls_.size() + serving_;
}

void LeaseWaitList::Answer(Call& call, absl::StatusOr<v1::LeaseTasksResponse> result) {
  {
    absl::MutexLock lock(&mu_);
    --serving_;
  }
  call.done(std::move(result));
}

void LeaseWaitList::Loop() {
  while (true) {
    bool woken;
    {
      absl::MutexLock lock(&mu_);
      absl::Time next = absl::InfiniteFuture();
      for (const auto& call : calls_) next = std::min(next, call->deadline);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
      clock_->AwaitWithDeadline(&mu_, absl::Condition(&ready), next);
      if (stopping_) return;
      woken = woken_;
      woken_ = false;
    }
    Serve(woken);
  }
}

void LeaseWaitList::Serve(bool retry) {
  std::vector<std::shared_ptr<Call>> mine;
  {
    absl::MutexLock lock(&mu_);
    mine.swap(calls_);
    serving_ = mine.size();
  }
  const absl::Time now = clock_->Now();
  std::vector<std::shared_ptr<Call>> still_waiting;
  for (std::shared_ptr<Call>& call : mine) {
    if (call->cancelled.load()) {
      Answer(*call, absl::CancelledError("the worker cancelled its lease call"));
      continue;
    }
    const bool wait_over = call->deadline <= now;
    if (!retry && !wait_over) {
      still_waiting.push_back(std::move(call));
      continue;
    }
    absl::StatusOr<v1::LeaseTasksResponse> result =
        retry ? lease_(call->request) : v1::LeaseTasksResponse();
    if (result.ok() && result->tasks().empty() && !wait_over) {
      still_waiting.push_back(std::move(call));
      continue;
    }
    // The call waited its time: the worker may ask again at once.
    if (result.ok() && result->tasks().empty()) result->set_retry_after_ms(0);
    Answer(*call, std::move(result));
  }
  absl::MutexLock lock(&mu_);
  serving_ = 0;
  // Calls held while this ran stay behind the older ones.
  still_waiting.insert(still_waiting.end(), std::make_move_iterator(calls_.begin()),
                       std::make_move_iterator(calls_.end()));
  calls_.swap(still_waiting);
}

}  // namespace ferry::controller
