#include "copyd/worker.h"

#include <algorithm>

#include "absl/random/random.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace ferry::copyd {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
constexpr absl::Duration kMaxReportRetryTime = absl::Seconds(60);

absl::Duration Jittered(absl::Duration delay) {
  static thread_local absl::BitGen bitgen;
  return delay * absl::Uniform(bitgen, 0.5, 1.5);
}

}  // namespace

Worker::Worker(v1::WorkerService::StubInterface* stub, const Clock* clock,
               WorkerOptions options, std::function<TaskRunner()> make_runner)
    : stub_(stub), clock_(clock), options_(std::move(options)),
      make_runner_(std::move(make_runner)) {}

Worker::~Worker() { Stop(); }

void Worker::Start() {
  threads_.emplace_back([this] { HeartbeatLoop(); });
  for (int i = 0; i < options_.max_concurrent_tasks; ++i) {
    threads_.emplace_back([this, runner = make_runner_()] { ExecutorLoop(runner); });
  }
}

void Worker::Stop() {
  if (!stopping_.HasBeenNotified()) stopping_.Notify();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, running] : running_) running->abort = true;
    for (grpc::ClientContext* call : lease_calls_) call->TryCancel();
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

std::string Worker::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

std::unique_ptr<grpc::ClientContext> Worker::NewContext(absl::Duration held) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout + held));
  return context;
}

bool Worker::Pause(absl::Duration delay) {
  return !stopping_.WaitForNotificationWithTimeout(delay);
}

bool Worker::EnsureRegistered() {
  absl::MutexLock registering(&register_mu_);
  if (!worker_id().empty()) return true;
  v1::RegisterWorkerRequest request;
  request.set_worker_name(options_.worker_name);
  request.set_cluster(options_.cluster);
  request.set_data_address(options_.data_address);
  request.set_storage_root(options_.storage_root);
  request.set_max_concurrent_tasks(options_.max_concurrent_tasks);
  absl::Duration backoff = kMinBackoff;
  while (!stopping_.HasBeenNotified()) {
    v1::RegisterWorkerResponse response;
    grpc::Status status = stub_->RegisterWorker(NewContext().get(), request, &response);
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      worker_id_ = response.worker_id();
      heartbeat_interval_ = absl::Milliseconds(std::max<int64_t>(response.heartbeat_interval_ms(), 100));
      LOG(INFO) << "registered as " << worker_id_;
      return true;
    }
    if (!IsRetryable(FromGrpcStatus(status).code())) {
      LOG(ERROR) << "controller refused registration: " << status.error_message();
    } else {
      VLOG(1) << "controller not reachable yet: " << status.error_message();
    }
    if (!Pause(Jittered(backoff))) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  return false;
}

void Worker::HeartbeatLoop() {
  while (!stopping_.HasBeenNotified()) {
    if (!EnsureRegistered()) return;
    v1::HeartbeatRequest request;
    absl::Duration interval;
    {
      absl::MutexLock lock(&mu_);
      request.set_worker_id(worker_id_);
      interval = heartbeat_interval_;
      for (const auto& [id, running] : running_) {
        v1::TaskProgress* progress = request.add_running();
        progress->set_task_id(id);
        progress->set_lease_generation(running->lease_generation);
        progress->set_bytes_done(running->bytes_done.load());
      }
    }
    v1::HeartbeatResponse response;
    grpc::Status status = stub_->Heartbeat(NewContext().get(), request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      LOG(WARNING) << "controller forgot worker " << request.worker_id() << "; registering again";
      absl::MutexLock lock(&mu_);
      if (worker_id_ == request.worker_id()) worker_id_.clear();
      continue;
    }
    if (status.ok() && options_.rate_limiter != nullptr) {
      options_.rate_limiter->Update(response.rate_limits());
    }
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      for (const std::string& id : response.abort_task_ids()) {
        auto it = running_.find(id);
        if (it != running_.end()) it->second->abort = true;
      }
    }
    if (!Pause(interval)) return;
  }
}

void Worker::ExecutorLoop(TaskRunner runner) {
  absl::Duration backoff = kMinBackoff;
  while (!stopping_.HasBeenNotified()) {
    if (!EnsureRegistered()) return;
    v1::LeaseTasksRequest request;
    request.set_worker_id(worker_id());
    request.set_max_tasks(1);
    request.set_wait_ms(absl::ToInt64Milliseconds(options_.lease_wait));
    v1::LeaseTasksResponse response;
    grpc::Status status = LeaseLongPoll(request, &response);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      absl::MutexLock lock(&mu_);
      if (worker_id_ == request.worker_id()) worker_id_.clear();
      continue;
    }
    if (status.ok() && response.tasks().empty() && request.wait_ms() > 0 &&
        response.retry_after_ms() == 0) {
      backoff = kMinBackoff;  // The controller held the call its whole wait: ask again.
      continue;
    }
    if (!status.ok() || response.tasks().empty()) {
      const absl::Duration hint = absl::Milliseconds(response.retry_after_ms());
      if (!Pause(Jittered(std::max(backoff, std::min(hint, kMaxBackoff))))) return;
      backoff = std::min(backoff * 2, absl::Milliseconds(500));
      continue;
    }
    backoff = kMinBackoff;
    for (const v1::Task& task : response.tasks()) RunTask(runner, task);
  }
}

grpc::Status Worker::LeaseLongPoll(const v1::LeaseTasksRequest& request,
                                   v1::LeaseTasksResponse* response) {
  const std::unique_ptr<grpc::ClientContext> context = NewContext(options_.lease_wait);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_.HasBeenNotified()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "worker stopping");
    }
    lease_calls_.insert(context.get());
  }
  grpc::Status status = stub_->LeaseTasks(context.get(), request, response);
  absl::MutexLock lock(&mu_);
  lease_calls_.erase(context.get());
  return status;
}

void Worker::RunTask(const TaskRunner& runner, const v1::Task& task) {
  auto running = std::make_shared<Running>();
  running->lease_generation = task.lease_generation();
  {
    absl::MutexLock lock(&mu_);
    running_[task.task_id()] = running;
    // Stop() aborts what is in running_; a task leased while it did so is aborted here.
    if (stopping_.HasBeenNotified()) running->abort = true;
  }
  v1::TaskReport report = runner(task, &running->abort, &running->bytes_done);
  {
    absl::MutexLock lock(&mu_);
    running_.erase(task.task_id());
  }
  if (running->abort.load()) {
    VLOG(1) << "task " << task.task_id() << " aborted; not reporting";
    return;
  }
  Report(report, clock_->Now() + kMaxReportRetryTime);
}

void Worker::Report(const v1::TaskReport& report, absl::Time give_up) {
  absl::Duration backoff = kMinBackoff;
  while (clock_->Now() < give_up) {
    v1::ReportTasksRequest request;
    request.set_worker_id(worker_id());
    *request.add_reports() = report;
    v1::ReportTasksResponse response;
    grpc::Status status = stub_->ReportTasks(NewContext().get(), request, &response);
    if (status.ok()) {
      if (!response.acks().empty() && response.acks(0).code() != 0) {
        LOG(WARNING) << "report of " << report.task_id()
                     << " not accepted: " << response.acks(0).message();
      }
      return;
    }
    if (!IsRetryable(FromGrpcStatus(status).code())) {
      LOG(ERROR) << "report of " << report.task_id() << " refused: " << status.error_message();
      return;
    }
    // Unlike leasing, an unfinished report must still go out while stopping.
    absl::SleepFor(Jittered(backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  LOG(ERROR) << "gave up reporting " << report.task_id() << "; its lease will expire";
}

}  // namespace ferry::copyd
