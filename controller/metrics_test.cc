#include "controller/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/services.h"
#include "controller/test_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "prometheus/metric_family.h"
#include "proto/copy_service.grpc.pb.h"

namespace ferry::controller {
namespace {

using testing::Directory;
using testing::HeartbeatOf;
using testing::RegularFile;
using testing::ReportOf;

using LabelMap = std::map<std::string, std::string>;

const LabelMap kAliceBatch = {{"priority", "batch"}, {"user", "alice"}};

// A ControllerTest whose manager reports to a ControllerMetrics (the base fixture's
// manager has no observer, so it is reopened with one).
class MetricsTest : public testing::ControllerTest {
 protected:
  void SetUp() override {
    options_.lease_duration = absl::Seconds(5);  // Shorter than worker_timeout (10 s).
    options_.plan_limits.max_files_per_task = 1;  // One task per entry.
    testing::ControllerTest::SetUp();
    OpenWithNewMetrics();
  }

  void TearDown() override {
    if (metrics_ != nullptr) metrics_->SetSources(nullptr, nullptr);
    manager_.reset();
  }

  // As a restarted controller process does: a new ControllerMetrics, then the manager
  // (its Recover reports every stored transfer) over the same directory.
  void OpenWithNewMetrics() {
    manager_.reset();
    store_.reset();
    metrics_ = std::make_unique<ControllerMetrics>(&clock_);
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    manager_ = std::make_unique<TransferManager>(store_.get(), &clock_, options_,
                                                 metrics_.get());
    FERRY_ASSERT_OK(manager_->Recover());
    metrics_->SetSources(manager_.get(), store_.get());
  }

  // The value of the series `name`{labels} as the registry exports it (histograms: the
  // sample count); nullopt if there is no such series.
  std::optional<double> Value(const std::string& name, const LabelMap& labels = {}) {
    for (const prometheus::MetricFamily& family : metrics_->registry()->Collect()) {
      if (family.name != name) continue;
      for (const prometheus::ClientMetric& metric : family.metric) {
        LabelMap found;
        for (const prometheus::ClientMetric::Label& label : metric.label) {
          found[label.name] = label.value;
        }
        if (found != labels) continue;
        switch (family.type) {
          case prometheus::MetricType::Counter:
            return metric.counter.value;
          case prometheus::MetricType::Gauge:
            return metric.gauge.value;
          case prometheus::MetricType::Histogram:
            return static_cast<double>(metric.histogram.sample_count);
          default:
            return std::nullopt;
        }
      }
    }
    return std::nullopt;
  }

  double Transfers(const std::string& state) {
    return Value("ferry_transfers", {{"state", state}}).value_or(-1);
  }

  std::unique_ptr<ControllerMetrics> metrics_;
};

TEST_F(MetricsTest, CountsATransferThroughItsWholeLife) {
  for (const char* state :
       {"pending", "planning", "running", "committing", "succeeded", "failed", "cancelled"}) {
    EXPECT_EQ(Transfers(state), 0) << state;
  }
  const std::string worker = RegisterWorker();
  const std::string id = CreateTransfer("r1");
  EXPECT_EQ(Transfers("pending"), 1);

  Plan(id, {Directory("d"), RegularFile("d/a", 100), RegularFile("d/b", 200),
            RegularFile("d/c", 300), RegularFile("d/e", 400)});
  EXPECT_EQ(Transfers("pending"), 0);
  EXPECT_EQ(Transfers("planning"), 0);
  EXPECT_EQ(Transfers("running"), 1);
  EXPECT_EQ(Value("ferry_entries_planned_total"), 5);
  EXPECT_EQ(Value("ferry_planned_bytes_total"), 1000);  // Directories carry no bytes.

  // Queue depth and age are read at refresh (scrape) time.
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), std::nullopt);
  clock_.Advance(absl::Seconds(7));
  metrics_->Refresh();
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), 5);
  EXPECT_EQ(Value("ferry_queue_age_seconds", kAliceBatch), 7);

  // Two tasks leased and done: "d" (no bytes) and "d/a".
  std::vector<v1::Task> tasks = Lease(worker, 2);
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(Value("ferry_tasks_leased_total"), 2);
  metrics_->Refresh();
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), 3);
  for (const v1::Task& task : tasks) EXPECT_EQ(ReportSuccess(worker, task).code(), 0);
  EXPECT_EQ(Value("ferry_files_done_total"), 2);
  EXPECT_EQ(Value("ferry_bytes_done_total"), 100);

  // A retryable error: counted by code, the task is queued again (no backoff here).
  tasks = Lease(worker, 1);
  ASSERT_EQ(tasks.size(), 1u);
  ReportTaskError(worker, tasks[0], absl::StatusCode::kUnavailable);
  EXPECT_EQ(Value("ferry_task_retries_total", {{"code", "UNAVAILABLE"}}), 1);
  metrics_->Refresh();
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), 3);

  // A permanent error fails the task's file at once.
  tasks = Lease(worker, 1);
  ASSERT_EQ(tasks.size(), 1u);
  ReportTaskError(worker, tasks[0], absl::StatusCode::kNotFound);
  EXPECT_EQ(Value("ferry_files_failed_total", {{"code", "NOT_FOUND"}}), 1);
  EXPECT_EQ(Value("ferry_task_retries_total", {{"code", "NOT_FOUND"}}), std::nullopt);

  // Skipped by policy: counted apart from copied files.
  tasks = Lease(worker, 1);
  ASSERT_EQ(tasks.size(), 1u);
  ASSERT_EQ(tasks[0].files_size(), 1);
  const int64_t skipped_bytes = tasks[0].files(0).length();
  v1::TaskReport skipped = ReportOf(tasks[0]);
  skipped.add_files()->set_skipped(true);
  skipped.mutable_files(0)->set_bytes(skipped_bytes);
  EXPECT_EQ(Report(worker, skipped).code(), 0);
  EXPECT_EQ(Value("ferry_files_skipped_total"), 1);
  EXPECT_EQ(Value("ferry_bytes_skipped_total"), skipped_bytes);
  EXPECT_EQ(Value("ferry_files_done_total"), 2);

  // A lease that runs out: the worker stays alive (heartbeat) but never reports.
  tasks = Lease(worker, 1);
  ASSERT_EQ(tasks.size(), 1u);
  FERRY_ASSERT_OK(manager_->Heartbeat(HeartbeatOf(worker)).status());
  clock_.Advance(options_.lease_duration + absl::Seconds(1));
  manager_->ExpireWorkersAndLeases();
  EXPECT_EQ(Value("ferry_lease_expirations_total"), 1);
  EXPECT_EQ(Value("ferry_task_retries_total", {{"code", "UNAVAILABLE"}}), 2);

  // The last task succeeds; one file failed, so the transfer ends FAILED.
  tasks = Lease(worker, 1);
  ASSERT_EQ(tasks.size(), 1u);
  ReportSuccess(worker, tasks[0]);
  EXPECT_EQ(Get(id).state(), v1::TRANSFER_STATE_FAILED);
  EXPECT_EQ(Transfers("running"), 0);
  EXPECT_EQ(Transfers("failed"), 1);
  EXPECT_EQ(Value("ferry_tasks_leased_total"), 7);
  EXPECT_EQ(Value("ferry_files_done_total"), 3);
  EXPECT_EQ(Value("ferry_bytes_done_total"), 100 + 400);

  // An empty queue loses its series.
  metrics_->Refresh();
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), std::nullopt);
  EXPECT_EQ(Value("ferry_queue_age_seconds", kAliceBatch), std::nullopt);
}

TEST_F(MetricsTest, QueueGaugesArePerPriorityClassAndUser) {
  const std::string alice = CreateTransfer("r1");
  Plan(alice, {RegularFile("a", 1), RegularFile("b", 1)});
  clock_.Advance(absl::Seconds(3));
  v1::CreateTransferRequest request = testing::CopyRequest("r2", "/src2", "/dst2");
  request.set_priority(v1::PRIORITY_CLASS_GUARANTEED);
  absl::StatusOr<v1::Transfer> bob = manager_->CreateTransfer("bob", request);
  ASSERT_TRUE(bob.ok()) << bob.status();
  Plan(bob->id(), {RegularFile("x", 1)});
  clock_.Advance(absl::Seconds(2));
  metrics_->Refresh();

  const LabelMap bob_guaranteed = {{"priority", "guaranteed"}, {"user", "bob"}};
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), 2);
  EXPECT_EQ(Value("ferry_queue_age_seconds", kAliceBatch), 5);
  EXPECT_EQ(Value("ferry_queued_tasks", bob_guaranteed), 1);
  EXPECT_EQ(Value("ferry_queue_age_seconds", bob_guaranteed), 2);

  // Only bob's queue empties; alice's series stays.
  FERRY_ASSERT_OK(manager_->CancelTransfer("bob", bob->id(), "").status());
  metrics_->Refresh();
  EXPECT_EQ(Value("ferry_queued_tasks", bob_guaranteed), std::nullopt);
  EXPECT_EQ(Value("ferry_queued_tasks", kAliceBatch), 2);
}

TEST_F(MetricsTest, CancelAndRecoveryKeepTheStateGaugeRight) {
  const std::string running = CreateTransfer("r1");
  Plan(running, {RegularFile("a", 10)});
  const std::string cancelled = CreateTransfer("r2");
  CreateTransfer("r3");  // Stays PENDING.
  FERRY_ASSERT_OK(
      manager_->CancelTransfer("alice", cancelled, "not needed").status());
  EXPECT_EQ(Transfers("running"), 1);
  EXPECT_EQ(Transfers("pending"), 1);
  EXPECT_EQ(Transfers("cancelled"), 1);

  // A restarted controller counts what it recovers, from zero.
  OpenWithNewMetrics();
  EXPECT_EQ(Transfers("running"), 1);
  EXPECT_EQ(Transfers("pending"), 1);
  EXPECT_EQ(Transfers("cancelled"), 1);
  EXPECT_EQ(Value("ferry_files_done_total"), 0);
}

TEST_F(MetricsTest, ReadsRocksDbStats) {
  CreateTransfer("r1");
  metrics_->Refresh();
  EXPECT_GT(Value("ferry_rocksdb_size_bytes").value_or(0), 0);  // The memtables hold it.
  EXPECT_EQ(Value("ferry_rocksdb_write_stopped"), 0);
  EXPECT_EQ(Value("ferry_rocksdb_delayed_write_rate_bytes"), 0);
}

TEST_F(MetricsTest, InterceptorTimesUnaryRpcsByMethodAndCode) {
  CopyServiceImpl service(manager_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(metrics_->NewRpcInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  const std::string id = CreateTransfer("r1");

  std::unique_ptr<v1::CopyService::Stub> stub = v1::CopyService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  auto get = [&stub](const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTransferRequest request;
    request.set_id(id);
    v1::Transfer response;
    return stub->GetTransfer(&context, request, &response).error_code();
  };
  EXPECT_EQ(get(id), grpc::StatusCode::OK);
  EXPECT_EQ(get(id), grpc::StatusCode::OK);
  EXPECT_EQ(get("t-missing"), grpc::StatusCode::NOT_FOUND);
  server->Shutdown();

  const std::string method = "/ferry.v1.CopyService/GetTransfer";
  EXPECT_EQ(Value("ferry_rpc_duration_seconds", {{"method", method}, {"code", "OK"}}), 2);
  EXPECT_EQ(Value("ferry_rpc_duration_seconds", {{"method", method}, {"code", "NOT_FOUND"}}),
            1);
}

// GET http://127.0.0.1:`port``path` over a plain socket; the whole response, headers
// included ("" on a connection error).
std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  return response;
}

TEST_F(MetricsTest, ExposerServesTheRegistryAndRefreshesAtScrape) {
  int port = 0;
  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      StartMetricsExposer("127.0.0.1:0", *metrics_, &port);
  ASSERT_TRUE(exposer.ok()) << exposer.status();
  ASSERT_GT(port, 0);
  Plan(CreateTransfer("r1"), {RegularFile("a", 1)});

  const std::string text = HttpGet(port, "/metrics");
  EXPECT_TRUE(absl::StartsWith(text, "HTTP/1.1 200 ")) << text;
  EXPECT_TRUE(absl::StrContains(text, "ferry_transfers{state=\"running\"} 1")) << text;
  // Queue depth comes from the refresh the scrape itself ran.
  EXPECT_TRUE(absl::StrContains(text, "ferry_queued_tasks{priority=\"batch\",user=\"alice\"} 1"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "# TYPE ferry_rocksdb_size_bytes gauge")) << text;
}

TEST(StartMetricsExposerTest, ReportsAnAddressItCannotUse) {
  SimulatedClock clock;
  ControllerMetrics metrics(&clock);
  absl::StatusOr<std::unique_ptr<prometheus::Exposer>> exposer =
      StartMetricsExposer("203.0.113.1:1", metrics, nullptr);
  EXPECT_EQ(exposer.status().code(), absl::StatusCode::kUnavailable) << exposer.status();
}

}  // namespace
}  // namespace ferry::controller
