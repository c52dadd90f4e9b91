// LeaseWaitList: the long poll of WorkerService.LeaseTasks.
//
// A LeaseTasks call that finds nothing runnable and asks to wait (wait_ms) is held here
// instead of answered empty; the worker would otherwise poll with a backoff and start
// new work up to that backoff late (hundreds of milliseconds per transfer and per
// phase). When the manager makes a task runnable it calls Wake(); every held call then
// tries to lease again, on this list's own thread, and is answered when it got tasks,
// when its wait ends (an empty answer with retry_after_ms 0), or when it is cancelled.
//
// Ownership: the list owns one thread and the calls it holds; the lease function must
// outlive it. Destruction ends every call still held with UNAVAILABLE. Each held call's
// `done` runs exactly once, never under the list's mutex, and never on the thread that
// called Hold unless the list is full (then at once, with an empty answer).
//
// Thread safety: all methods may be called from any thread.
#ifndef FERRY_CONTROLLER_LEASE_WAIT_LIST_H_
#define FERRY_CONTROLLER_LEASE_WAIT_LIST_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "proto/worker_service.pb.h"

namespace ferry::controller {

class LeaseWaitList {
 public:
  using LeaseFn = std::function<absl::StatusOr<v1::LeaseTasksResponse>(
      const v1::LeaseTasksRequest&)>;
  using DoneFn = std::function<void(absl::StatusOr<v1::LeaseTasksResponse>)>;

  // One held call. `cancelled` may be set from any thread (then call Wake()).
  struct Call {
    v1::LeaseTasksRequest request;
    absl::Time deadline;
    DoneFn done;
    std::atomic<bool> cancelled{false};
  };

  // Longest wait a call may ask for (LeaseTasksRequest.wait_ms).
  static constexpr absl::Duration kMaxWait = absl::Seconds(60);
  // Answer to a call that cannot be held (list full): ask again after this.
  static constexpr int64_t kFullRetryAfterMs = 200;

  LeaseWaitList(const Clock* clock, LeaseFn lease, size_t max_calls = 4096);
  ~LeaseWaitList();

  LeaseWaitList(const LeaseWaitList&) = delete;
  LeaseWaitList& operator=(const LeaseWaitList&) = delete;

  // Holds `call` until call->deadline (see the file comment).
  void Hold(std::shared_ptr<Call> call);

  // A task became runnable, or a held call was cancelled: look at the held calls again.
  void Wake();

  size_t held() const;

 private:
  void Loop();
  // Answers the calls that were cancelled or whose wait ended; with `retry`, tries to
  // lease for the others and answers those that got tasks.
  void Serve(bool retry);
  // Runs call.done and counts the call as no longer held.
  void Answer(Call& call, absl::StatusOr<v1::LeaseTasksResponse> result);

  const Clock* const clock_;
  const LeaseFn lease_;
  const size_t max_calls_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  size_t serving_ ABSL_GUARDED_BY(mu_) = 0;  // Taken out of calls_ by Serve.
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_LEASE_WAIT_LIST_H_
