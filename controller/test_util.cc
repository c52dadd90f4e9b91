#include "controller/test_util.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"

namespace ferry::controller::testing {

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/controller-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << templ;
  return templ;
}

v1::CreateTransferRequest CopyRequest(const std::string& request_id,
                                      const std::string& source,
                                      const std::string& destination, bool recursive) {
  v1::CreateTransferRequest request;
  request.set_request_id(request_id);
  request.mutable_source()->set_cluster(kCluster);
  request.mutable_source()->set_path(source);
  v1::Location* to = request.add_destinations();
  to->set_cluster(kCluster);
  to->set_path(destination);
  request.set_recursive(recursive);
  return request;
}

v1::FileInfo RegularFile(const std::string& path, uint64_t size) {
  v1::FileInfo info;
  info.set_path(path);
  info.set_type(v1::FILE_TYPE_REGULAR);
  info.set_size(size);
  return info;
}

v1::FileInfo Directory(const std::string& path) {
  v1::FileInfo info;
  info.set_path(path);
  info.set_type(v1::FILE_TYPE_DIRECTORY);
  return info;
}

v1::FileInfo HardLinkedFile(const std::string& path, uint64_t size, uint64_t inode,
                            uint64_t nlink) {
  v1::FileInfo info = RegularFile(path, size);
  info.set_device(9);
  info.set_inode(inode);
  info.set_nlink(nlink);
  return info;
}

v1::TaskReport ReportOf(const v1::Task& task) {
  v1::TaskReport report;
  report.set_task_id(task.task_id());
  report.set_lease_generation(task.lease_generation());
  return report;
}

v1::HeartbeatRequest HeartbeatOf(const std::string& worker_id,
                                 const std::vector<v1::Task>& running) {
  v1::HeartbeatRequest request;
  request.set_worker_id(worker_id);
  for (const v1::Task& task : running) {
    v1::TaskProgress* progress = request.add_running();
    progress->set_task_id(task.task_id());
    progress->set_lease_generation(task.lease_generation());
  }
  return request;
}

void ControllerTest::SetUp() {
  dir_ = MakeTempDir();
  // Retries run at once unless a test asks for backoff.
  options_.retry_backoff_base = absl::ZeroDuration();
  Open();
}

void ControllerTest::Open() {
  manager_.reset();
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = *std::move(store);
  manager_ = std::make_unique<TransferManager>(store_.get(), &clock_, options_);
  FERRY_ASSERT_OK(manager_->Recover());
}

void ControllerTest::Restart() { Open(); }

std::string ControllerTest::RegisterWorker(const std::string& name) {
  v1::RegisterWorkerRequest request;
  request.set_worker_name(name);
  request.set_cluster(kCluster);
  request.set_data_address(absl::StrCat(name, ":7000"));
  request.set_max_concurrent_tasks(4);
  absl::StatusOr<v1::RegisterWorkerResponse> response = manager_->RegisterWorker(request);
  EXPECT_TRUE(response.ok()) << response.status();
  return response.ok() ? response->worker_id() : "";
}

std::string ControllerTest::CreateTransfer(const std::string& request_id, bool dry_run) {
  v1::CreateTransferRequest request = CopyRequest(request_id, "/src", "/dst");
  request.set_dry_run(dry_run);
  absl::StatusOr<v1::Transfer> transfer = manager_->CreateTransfer("alice", request);
  EXPECT_TRUE(transfer.ok()) << transfer.status();
  return transfer.ok() ? transfer->id() : "";
}

void ControllerTest::Plan(const std::string& id, const std::vector<v1::FileInfo>& entries,
                          bool listing_complete) {
  absl::StatusOr<TransferRecord> record = manager_->BeginPlanning(id);
  ASSERT_TRUE(record.ok()) << record.status();
  FERRY_ASSERT_OK(manager_->AddPlannedEntries(id, entries, "cursor", /*root_entry=*/true,
                                              listing_complete));
}

ControllerTest::OneTask ControllerTest::StartOneTask(
    const std::vector<v1::FileInfo>& entries) {
  OneTask one;
  one.worker_id = RegisterWorker();
  one.transfer_id = CreateTransfer("r1");
  Plan(one.transfer_id, entries);
  std::vector<v1::Task> tasks = Lease(one.worker_id);
  if (tasks.size() == 1) {
    one.task = tasks[0];
  } else {
    ADD_FAILURE() << "leased " << tasks.size() << " tasks, expected one";
  }
  return one;
}

std::vector<v1::Task> ControllerTest::Lease(const std::string& worker_id, int max_tasks) {
  v1::LeaseTasksRequest request;
  request.set_worker_id(worker_id);
  request.set_max_tasks(max_tasks);
  absl::StatusOr<v1::LeaseTasksResponse> response = manager_->LeaseTasks(request);
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) return {};
  return {response->tasks().begin(), response->tasks().end()};
}

v1::TaskAck ControllerTest::Report(const std::string& worker_id,
                                   const v1::TaskReport& report) {
  v1::ReportTasksRequest request;
  request.set_worker_id(worker_id);
  *request.add_reports() = report;
  absl::StatusOr<v1::ReportTasksResponse> response = manager_->ReportTasks(request);
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok() || response->acks_size() != 1) {
    ADD_FAILURE() << "expected one ack";
    return v1::TaskAck();
  }
  return response->acks(0);
}

v1::TaskAck ControllerTest::ReportSuccess(const std::string& worker_id,
                                          const v1::Task& task) {
  v1::TaskReport report = ReportOf(task);
  for (const v1::FileTask& file : task.files()) {
    report.add_files()->set_bytes(file.length());
  }
  return Report(worker_id, report);
}

v1::TaskAck ControllerTest::ReportTaskError(const std::string& worker_id,
                                            const v1::Task& task, absl::StatusCode code) {
  v1::TaskReport report = ReportOf(task);
  report.set_code(static_cast<int32_t>(code));
  report.set_message("injected by the test");
  return Report(worker_id, report);
}

v1::Transfer ControllerTest::Get(const std::string& id) {
  absl::StatusOr<v1::Transfer> transfer = manager_->GetTransfer(id);
  EXPECT_TRUE(transfer.ok()) << transfer.status();
  return transfer.ok() ? *transfer : v1::Transfer();
}

}  // namespace ferry::controller::testing
