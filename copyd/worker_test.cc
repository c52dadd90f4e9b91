// Worker against a gMock WorkerService stub that delegates to a scripted fake
// controller, with a fake TaskRunner. Tests wait for state with Mutex conditions and
// deadlines, never with sleeps.
#include "copyd/worker.h"

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/worker_service_mock.grpc.pb.h"

namespace ferry::copyd {
namespace {

using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;

constexpr absl::Duration kWaitLimit = absl::Seconds(20);
// How long Stop() may take with nothing outstanding: no heartbeat or lease pause, and
// no task that ignores its abort flag, may hold it up.
constexpr absl::Duration kPromptStop = absl::Seconds(1);

v1::Task MakeTask(const std::string& id, uint64_t generation) {
  v1::Task task;
  task.set_task_id(id);
  task.set_lease_generation(generation);
  task.set_kind(v1::TASK_KIND_COPY_FILES);
  task.add_files()->set_source_path("/src/" + id);
  return task;
}

class WorkerTest : public ::testing::Test {
 protected:
  WorkerTest() {
    ON_CALL(stub_, RegisterWorker(_, _, _)).WillByDefault(Invoke(this, &WorkerTest::Register));
    ON_CALL(stub_, Heartbeat(_, _, _)).WillByDefault(Invoke(this, &WorkerTest::Heartbeat));
    ON_CALL(stub_, LeaseTasks(_, _, _)).WillByDefault(Invoke(this, &WorkerTest::Lease));
    ON_CALL(stub_, ReportTasks(_, _, _)).WillByDefault(Invoke(this, &WorkerTest::Report));
  }

  ~WorkerTest() override {
    if (worker_ != nullptr) worker_->Stop();
  }

  void StartWorker(int max_concurrent_tasks = 2, RateLimiter* rate_limiter = nullptr) {
    WorkerOptions options;
    options.rate_limiter = rate_limiter;
    options.worker_name = "copyd-test";
    options.cluster = "local";
    options.data_address = "127.0.0.1:7777";
    options.storage_root = "/data";
    options.max_concurrent_tasks = max_concurrent_tasks;
    worker_ = std::make_unique<Worker>(&stub_, &clock_, options, [this]() -> TaskRunner {
      return [this](const v1::Task& task, const std::atomic<bool>* abort,
                    std::atomic<int64_t>* bytes_done) { return Run(task, abort, bytes_done); };
    });
    worker_->Start();
  }

  // Stops the worker and returns how long that took.
  absl::Duration TimedStop() {
    const absl::Time start = absl::Now();
    worker_->Stop();
    return absl::Now() - start;
  }

  // Waits until `condition` (called with mu_ held) holds; false after kWaitLimit.
  template <typename Condition>
  bool WaitUntil(Condition condition) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&condition), kWaitLimit);
  }

  bool Started(const std::string& id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const v1::Task& task : started_) {
      if (task.task_id() == id) return true;
    }
    return false;
  }

  // A heartbeat from `worker_id` reported `task_id` as running, with at least
  // `bytes_done`.
  bool HeartbeatListed(const std::string& worker_id, const std::string& task_id,
                       int64_t bytes_done = 0) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const v1::HeartbeatRequest& heartbeat : heartbeats_) {
      if (heartbeat.worker_id() != worker_id) continue;
      for (const v1::TaskProgress& running : heartbeat.running()) {
        if (running.task_id() == task_id && running.bytes_done() >= bytes_done) return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------ fake controller
  grpc::Status Register(grpc::ClientContext*, const v1::RegisterWorkerRequest& request,
                        v1::RegisterWorkerResponse* response) {
    absl::MutexLock lock(&mu_);
    registrations_.push_back(request);
    if (!register_status_.ok()) return register_status_;
    response->set_worker_id(absl::StrCat("w-", ++issued_ids_));
    response->set_heartbeat_interval_ms(heartbeat_interval_ms_);
    response->set_worker_timeout_ms(10 * heartbeat_interval_ms_);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ClientContext*, const v1::HeartbeatRequest& request,
                         v1::HeartbeatResponse* response) {
    absl::MutexLock lock(&mu_);
    heartbeats_.push_back(request);
    if (forgotten_.count(request.worker_id()) != 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker; register");
    }
    for (const v1::TaskProgress& running : request.running()) {
      if (to_abort_.count(running.task_id()) != 0) {
        response->add_abort_task_ids(running.task_id());
      }
    }
    *response->mutable_rate_limits() = rate_limits_;
    return grpc::Status::OK;
  }

  grpc::Status Lease(grpc::ClientContext*, const v1::LeaseTasksRequest& request,
                     v1::LeaseTasksResponse* response) {
    absl::MutexLock lock(&mu_);
    leases_.push_back(request);
    if (forgotten_.count(request.worker_id()) != 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown worker; register");
    }
    if (queue_.empty()) {
      response->set_retry_after_ms(retry_after_ms_);
    } else {
      *response->add_tasks() = queue_.front();
      queue_.pop_front();
    }
    return grpc::Status::OK;
  }

  grpc::Status Report(grpc::ClientContext*, const v1::ReportTasksRequest& request,
                      v1::ReportTasksResponse* response) {
    absl::MutexLock lock(&mu_);
    report_attempts_.push_back(request);
    if (report_failures_ > 0) {
      --report_failures_;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "controller restarting");
    }
    reports_.push_back(request);
    for (const v1::TaskReport& report : request.reports()) {
      response->add_acks()->set_task_id(report.task_id());
    }
    return grpc::Status::OK;
  }

  // ------------------------------------------------------------ fake runner
  // Records the task, publishes progress, then (if `block_tasks_`) waits until the test
  // releases the task or the worker sets its abort flag; reports like FileCopier does.
  v1::TaskReport Run(const v1::Task& task, const std::atomic<bool>* abort,
                     std::atomic<int64_t>* bytes_done) {
    bytes_done->store(1234);
    bool aborted = false;
    {
      absl::MutexLock lock(&mu_);
      started_.push_back(task);
      const absl::Time deadline = absl::Now() + kWaitLimit;
      auto released = [this, &task] { return released_.count(task.task_id()) != 0; };
      // The abort flag is not guarded by mu_: poll it.
      while (block_tasks_ && !(aborted = abort->load()) && absl::Now() < deadline &&
             !mu_.AwaitWithTimeout(absl::Condition(&released), absl::Milliseconds(2))) {
      }
      if (aborted) aborted_.insert(task.task_id());
      finished_.insert(task.task_id());
    }
    v1::TaskReport report;
    report.set_task_id(task.task_id());
    report.set_lease_generation(task.lease_generation());
    if (aborted) {
      report.set_code(static_cast<int32_t>(absl::StatusCode::kCancelled));
      return report;
    }
    v1::FileResult* file = report.add_files();
    file->set_bytes(1234);
    return report;
  }

  NiceMock<v1::MockWorkerServiceStub> stub_;
  SimulatedClock clock_;
  std::unique_ptr<Worker> worker_;

  absl::Mutex mu_;
  // The controller's script.
  grpc::Status register_status_ ABSL_GUARDED_BY(mu_);
  int64_t heartbeat_interval_ms_ ABSL_GUARDED_BY(mu_) = 100;
  int64_t retry_after_ms_ ABSL_GUARDED_BY(mu_) = 50;
  std::deque<v1::Task> queue_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> forgotten_ ABSL_GUARDED_BY(mu_);  // Worker ids; NOT_FOUND.
  std::set<std::string> to_abort_ ABSL_GUARDED_BY(mu_);   // Task ids.
  google::protobuf::RepeatedPtrField<v1::RateLimit> rate_limits_ ABSL_GUARDED_BY(mu_);
  int report_failures_ ABSL_GUARDED_BY(mu_) = 0;          // UNAVAILABLE before OK.
  // What the controller saw.
  int issued_ids_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::RegisterWorkerRequest> registrations_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::HeartbeatRequest> heartbeats_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::LeaseTasksRequest> leases_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportTasksRequest> report_attempts_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ReportTasksRequest> reports_ ABSL_GUARDED_BY(mu_);  // Accepted.
  // The runner's script and record.
  bool block_tasks_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> released_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Task> started_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> finished_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> aborted_ ABSL_GUARDED_BY(mu_);
};

TEST_F(WorkerTest, RegistersLeasesRunsAndReportsWithTheLeaseGeneration) {
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(MakeTask("t-1", 42));
  }
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return !reports_.empty(); }));
  EXPECT_EQ(worker_->worker_id(), "w-1");
  worker_->Stop();

  absl::MutexLock lock(&mu_);
  ASSERT_EQ(registrations_.size(), 1u);  // One registration shared by every thread.
  const v1::RegisterWorkerRequest& registration = registrations_[0];
  EXPECT_EQ(registration.worker_name(), "copyd-test");
  EXPECT_EQ(registration.cluster(), "local");
  EXPECT_EQ(registration.data_address(), "127.0.0.1:7777");
  EXPECT_EQ(registration.storage_root(), "/data");
  EXPECT_EQ(registration.max_concurrent_tasks(), 2);

  ASSERT_FALSE(leases_.empty());
  for (const v1::LeaseTasksRequest& lease : leases_) {
    EXPECT_EQ(lease.worker_id(), "w-1");
    EXPECT_EQ(lease.max_tasks(), 1);
  }
  ASSERT_EQ(started_.size(), 1u);
  EXPECT_EQ(started_[0].task_id(), "t-1");
  EXPECT_EQ(started_[0].lease_generation(), 42u);

  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].worker_id(), "w-1");
  ASSERT_EQ(reports_[0].reports_size(), 1);
  const v1::TaskReport& report = reports_[0].reports(0);
  EXPECT_EQ(report.task_id(), "t-1");
  EXPECT_EQ(report.lease_generation(), 42u);
  EXPECT_EQ(report.code(), 0);
  ASSERT_EQ(report.files_size(), 1);
  EXPECT_EQ(report.files(0).bytes(), 1234u);
}

TEST_F(WorkerTest, HeartbeatsCarryTheProgressOfRunningTasks) {
  {
    absl::MutexLock lock(&mu_);
    block_tasks_ = true;
    queue_.push_back(MakeTask("t-1", 42));
  }
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return HeartbeatListed("w-1", "t-1", 1234); }));
  {
    absl::MutexLock lock(&mu_);
    for (const v1::HeartbeatRequest& heartbeat : heartbeats_) {
      for (const v1::TaskProgress& running : heartbeat.running()) {
        EXPECT_EQ(running.task_id(), "t-1");
        EXPECT_EQ(running.lease_generation(), 42u);
      }
    }
    released_.insert("t-1");
  }
  ASSERT_TRUE(WaitUntil([this] { return !reports_.empty(); }));
}

TEST_F(WorkerTest, ReportIsRetriedOnTransientErrors) {
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(MakeTask("t-1", 3));
    report_failures_ = 2;
  }
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return !reports_.empty(); }));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(report_attempts_.size(), 3u);
  EXPECT_EQ(reports_[0].reports(0).lease_generation(), 3u);
}

TEST_F(WorkerTest, HeartbeatNotFoundTriggersRegistrationAndTasksCarryOn) {
  {
    absl::MutexLock lock(&mu_);
    block_tasks_ = true;
    queue_.push_back(MakeTask("t-1", 42));
  }
  StartWorker(/*max_concurrent_tasks=*/1);  // Its one executor stays busy with t-1.
  ASSERT_TRUE(WaitUntil([this] { return Started("t-1"); }));
  {
    absl::MutexLock lock(&mu_);
    forgotten_.insert("w-1");  // The controller restarted and lost its workers.
  }
  ASSERT_TRUE(WaitUntil([this] { return HeartbeatListed("w-2", "t-1"); }));
  EXPECT_EQ(worker_->worker_id(), "w-2");
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(registrations_.size(), 2u);
    released_.insert("t-1");
  }
  // The task's lease is judged by its generation, so its result still counts.
  ASSERT_TRUE(WaitUntil([this] { return !reports_.empty(); }));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(reports_[0].worker_id(), "w-2");
  EXPECT_EQ(reports_[0].reports(0).lease_generation(), 42u);
}

TEST_F(WorkerTest, LeaseNotFoundAlsoTriggersRegistration) {
  {
    absl::MutexLock lock(&mu_);
    heartbeat_interval_ms_ = 60'000;  // Leaves the re-registration to the executor.
  }
  StartWorker(/*max_concurrent_tasks=*/1);
  ASSERT_TRUE(WaitUntil([this] { return !heartbeats_.empty() && !leases_.empty(); }));
  {
    absl::MutexLock lock(&mu_);
    forgotten_.insert("w-1");
  }
  ASSERT_TRUE(WaitUntil([this] {
    return !leases_.empty() && leases_.back().worker_id() != "w-1";
  }));
  EXPECT_NE(worker_->worker_id(), "w-1");
}

TEST_F(WorkerTest, AbortFromHeartbeatStopsOnlyThatTaskAndItIsNotReported) {
  {
    absl::MutexLock lock(&mu_);
    block_tasks_ = true;
    queue_.push_back(MakeTask("t-1", 1));
    queue_.push_back(MakeTask("t-2", 1));
  }
  StartWorker(/*max_concurrent_tasks=*/2);
  ASSERT_TRUE(WaitUntil([this] { return Started("t-1") && Started("t-2"); }));
  size_t leases_before;
  {
    absl::MutexLock lock(&mu_);
    to_abort_.insert("t-1");  // Its transfer was cancelled.
  }
  ASSERT_TRUE(WaitUntil([this] { return finished_.count("t-1") != 0; }));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(aborted_.count("t-1"), 1u);
    EXPECT_EQ(finished_.count("t-2"), 0u);  // The other task runs on.
    leases_before = leases_.size();
  }
  // The executor that ran t-1 is back to leasing: t-1 is behind it, unreported.
  ASSERT_TRUE(WaitUntil([&] { return leases_.size() > leases_before; }));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(reports_.empty());
    released_.insert("t-2");
  }
  ASSERT_TRUE(WaitUntil([this] { return !reports_.empty(); }));
  worker_->Stop();
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].reports(0).task_id(), "t-2");
  EXPECT_EQ(aborted_.count("t-2"), 0u);
}

TEST_F(WorkerTest, HeartbeatRateLimitsReachTheRateLimiter) {
  RateLimiter limiter(&clock_);
  // The worker must stop before the limiter goes, also when an assertion fails.
  const auto stop_worker = [this] {
    if (worker_ != nullptr) worker_->Stop();
  };
  struct StopOnExit {
    std::function<void()> stop;
    ~StopOnExit() { stop(); }
  } stop_on_exit{stop_worker};
  {
    absl::MutexLock lock(&mu_);
    v1::RateLimit* limit = rate_limits_.Add();
    limit->set_flow_group("a->local/2/alice");
    limit->set_bytes_per_second(5e6);
  }
  StartWorker(/*max_concurrent_tasks=*/1, &limiter);
  // The loop applies an answer before it sends the next heartbeat.
  ASSERT_TRUE(WaitUntil([this] { return heartbeats_.size() >= 2; }));
  EXPECT_EQ(limiter.RateOf("a->local/2/alice"), 5e6);
  {
    absl::MutexLock lock(&mu_);
    rate_limits_.Mutable(0)->set_bytes_per_second(0);  // No limit any more.
  }
  ASSERT_TRUE(WaitUntil([this] { return heartbeats_.size() >= 4; }));
  worker_->Stop();
  EXPECT_EQ(limiter.RateOf("a->local/2/alice"), 0);
}

TEST_F(WorkerTest, LeaseCallsAskTheControllerToHoldThem) {
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return !leases_.empty(); }));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(leases_[0].wait_ms(), absl::ToInt64Milliseconds(WorkerOptions().lease_wait));
  EXPECT_GT(leases_[0].wait_ms(), 0);
}

TEST_F(WorkerTest, StopJoinsPromptlyWhenIdle) {
  {
    absl::MutexLock lock(&mu_);
    heartbeat_interval_ms_ = 60'000;
    retry_after_ms_ = 60'000;
  }
  StartWorker();
  // Both executors and the heartbeat thread are now in their pauses.
  ASSERT_TRUE(WaitUntil([this] { return !heartbeats_.empty() && leases_.size() >= 2; }));
  EXPECT_LT(TimedStop(), kPromptStop);
}

TEST_F(WorkerTest, StopJoinsPromptlyWhileTheControllerIsUnreachable) {
  {
    absl::MutexLock lock(&mu_);
    register_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused");
  }
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return registrations_.size() >= 2; }));  // Retrying.
  EXPECT_LT(TimedStop(), kPromptStop);
  EXPECT_EQ(worker_->worker_id(), "");
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(leases_.empty());
  EXPECT_TRUE(heartbeats_.empty());
}

TEST_F(WorkerTest, StopAbortsRunningTasksAndDoesNotReportThem) {
  {
    absl::MutexLock lock(&mu_);
    block_tasks_ = true;  // Tasks end only when released or aborted.
    queue_.push_back(MakeTask("t-1", 5));
  }
  StartWorker();
  ASSERT_TRUE(WaitUntil([this] { return Started("t-1"); }));
  EXPECT_LT(TimedStop(), kPromptStop);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(aborted_.count("t-1"), 1u);
  EXPECT_TRUE(reports_.empty());
}

TEST_F(WorkerTest, StopAbortsATaskLeasedWhileStopping) {
  absl::Notification lease_entered;
  absl::Notification lease_may_return;
  {
    absl::MutexLock lock(&mu_);
    block_tasks_ = true;
    queue_.push_back(MakeTask("t-1", 5));
  }
  // The lease of t-1 is in flight while Stop() runs.
  EXPECT_CALL(stub_, LeaseTasks(_, _, _))
      .WillOnce([&](grpc::ClientContext* context, const v1::LeaseTasksRequest& request,
                    v1::LeaseTasksResponse* response) {
        lease_entered.Notify();
        lease_may_return.WaitForNotification();
        return Lease(context, request, response);
      })
      .WillRepeatedly([this](grpc::ClientContext* context, const v1::LeaseTasksRequest& request,
                             v1::LeaseTasksResponse* response) {
        return Lease(context, request, response);
      });
  StartWorker(/*max_concurrent_tasks=*/1);
  if (!lease_entered.WaitForNotificationWithTimeout(kWaitLimit)) {
    lease_may_return.Notify();
    FAIL() << "no lease";
  }
  std::thread stopper([this] { worker_->Stop(); });
  // Nothing observable marks the moment Stop() has aborted the running tasks; this
  // pause only makes it likely that it has, so the task arrives after that moment.
  absl::SleepFor(absl::Milliseconds(100));
  lease_may_return.Notify();
  stopper.join();
  absl::MutexLock lock(&mu_);
  ASSERT_TRUE(Started("t-1"));
  EXPECT_EQ(aborted_.count("t-1"), 1u);  // Not run to completion after Stop().
  EXPECT_TRUE(reports_.empty());
}

}  // namespace
}  // namespace ferry::copyd
