// Worker: the copyd's conversation with its controller (WorkerService).
//
// Registers (retrying with backoff until the controller answers), then runs a heartbeat
// thread and `max_concurrent_tasks` executor threads. Each executor leases one task at a
// time, runs it with its own FileCopier and reports the result, retrying the report on
// transient errors until the lease would have expired. A heartbeat carries the progress
// of every running task; tasks the controller names in abort_task_ids are stopped. When
// the controller forgets this worker (it restarted, or the worker was silent too long)
// the worker registers again and keeps running its tasks: their leases are judged by
// generation, not by worker id. The rate limits a heartbeat answer carries go to
// options.rate_limiter, which the task runners' remote reads pay into.
//
// Thread safety: Start and Stop from one thread; everything else is internal.
#ifndef FERRY_COPYD_WORKER_H_
#define FERRY_COPYD_WORKER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "copyd/rate_limiter.h"
#include "proto/worker_service.grpc.pb.h"

namespace ferry::copyd {

struct WorkerOptions {
  std::string worker_name;
  std::string cluster;
  std::string data_address;
  std::string storage_root;
  int max_concurrent_tasks = 2;
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Long poll: an idle executor's LeaseTasks asks the controller to hold the call this
  // long (LeaseTasksRequest.wait_ms) and answer as soon as a task is runnable, so new
  // work starts at once rather than after a polling backoff. 0: no long poll.
  absl::Duration lease_wait = absl::Seconds(10);
  // Takes the rate_limits of every HeartbeatResponse; null: they are ignored. Not
  // owned; must outlive the worker.
  RateLimiter* rate_limiter = nullptr;
};

// Runs one leased task and returns its report (implemented by FileCopier in main).
using TaskRunner = std::function<v1::TaskReport(
    const v1::Task& task, const std::atomic<bool>* abort, std::atomic<int64_t>* bytes_done)>;

class Worker {
 public:
  // `stub` and `clock` must outlive the worker. `make_runner` is called once per
  // executor thread, so each has its own buffers.
  Worker(v1::WorkerService::StubInterface* stub, const Clock* clock, WorkerOptions options,
         std::function<TaskRunner()> make_runner);
  ~Worker();

  // Starts registering and working in the background.
  void Start();
  // Stops leasing, aborts running tasks, joins threads.
  void Stop();

  // For tests: the current worker id ("" before registration).
  std::string worker_id() const;

 private:
  struct Running {
    uint64_t lease_generation;
    std::atomic<bool> abort{false};
    std::atomic<int64_t> bytes_done{0};
  };

  bool EnsureRegistered();
  void HeartbeatLoop();
  void ExecutorLoop(TaskRunner runner);
  void RunTask(const TaskRunner& runner, const v1::Task& task);
  void Report(const v1::TaskReport& report, absl::Time give_up);
  // Waits up to `delay`; returns false if the worker is stopping.
  bool Pause(absl::Duration delay);
  // LeaseTasks with a deadline covering its wait_ms, cancellable by Stop().
  grpc::Status LeaseLongPoll(const v1::LeaseTasksRequest& request,
                             v1::LeaseTasksResponse* response);
  // A call's context: its deadline is the RPC timeout plus `held`, how long the server
  // may hold the call (a long poll).
  std::unique_ptr<grpc::ClientContext> NewContext(
      absl::Duration held = absl::ZeroDuration()) const;

  v1::WorkerService::StubInterface* const stub_;
  const Clock* const clock_;
  const WorkerOptions options_;
  const std::function<TaskRunner()> make_runner_;

  absl::Notification stopping_;
  mutable absl::Mutex mu_;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(1);
  absl::flat_hash_map<std::string, std::shared_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  // LeaseTasks calls in flight (long polls), cancelled by Stop().
  absl::flat_hash_set<grpc::ClientContext*> lease_calls_ ABSL_GUARDED_BY(mu_);
  absl::Mutex register_mu_;  // One registration at a time.
  std::vector<std::thread> threads_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_WORKER_H_
