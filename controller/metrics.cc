#include "controller/metrics.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"
#include "prometheus/metric_family.h"

namespace ferry::controller {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Labels;

// 0.5 ms .. 30 s: LeaseTasks and GetTransfer answer in well under a millisecond,
// synced commits (CreateTransfer, ReportTasks) take an fsync.
const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return *buckets;
}

// "TRANSFER_STATE_RUNNING" with prefix "TRANSFER_STATE_" -> "running".
std::string EnumLabel(const std::string& name, absl::string_view prefix) {
  absl::string_view rest = name;
  absl::ConsumePrefix(&rest, prefix);
  return absl::AsciiStrToLower(rest);
}

Labels CodeLabels(absl::StatusCode code) {
  return {{"code", absl::StatusCodeToString(code)}};
}

// Registers the family `name`; T is Counter, Gauge or Histogram.
template <typename T>
prometheus::Family<T>& NewFamily(prometheus::detail::Builder<T> builder,
                                 prometheus::Registry& registry, const std::string& name,
                                 const std::string& help) {
  return builder.Name(name).Help(help).Register(registry);
}

// Times one unary RPC from the moment gRPC matched it to the moment its status goes out.
class RpcTimer final : public grpc::experimental::Interceptor {
 public:
  RpcTimer(ControllerMetrics* metrics, absl::string_view method)
      : metrics_(metrics), method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      metrics_->RecordRpc(method_, static_cast<absl::StatusCode>(status.error_code()),
                          absl::FromChrono(std::chrono::steady_clock::now() - start_));
    }
    methods->Proceed();
  }

 private:
  ControllerMetrics* const metrics_;
  const absl::string_view method_;  // Owned by gRPC for the server's lifetime.
  const std::chrono::steady_clock::time_point start_;
};

class RpcTimerFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcTimerFactory(ControllerMetrics* metrics) : metrics_(metrics) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY ||
        info->method() == nullptr) {
      return nullptr;
    }
    return new RpcTimer(metrics_, info->method());
  }

 private:
  ControllerMetrics* const metrics_;
};

}  // namespace

std::string StateLabel(v1::TransferState state) {
  return EnumLabel(v1::TransferState_Name(state), "TRANSFER_STATE_");
}

std::string PriorityLabel(v1::PriorityClass priority) {
  return EnumLabel(v1::PriorityClass_Name(priority), "PRIORITY_CLASS_");
}

class ControllerMetrics::ScrapeTarget final : public prometheus::Collectable {
 public:
  explicit ScrapeTarget(ControllerMetrics* metrics) : metrics_(metrics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    metrics_->Refresh();
    return metrics_->registry_->Collect();
  }

 private:
  ControllerMetrics* const metrics_;
};

ControllerMetrics::ControllerMetrics(const Clock* clock)
    : clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()),
      scrape_target_(std::make_shared<ScrapeTarget>(this)),
      transfers_(
          NewFamily(BuildGauge(), *registry_, "ferry_transfers",
                    "Transfers in the store by state (ended ones until collected).")),
      files_done_(NewFamily(BuildCounter(), *registry_, "ferry_files_done_total",
                            "Files copied and committed.")
                      .Add({})),
      bytes_done_(NewFamily(BuildCounter(), *registry_, "ferry_bytes_done_total",
                            "Bytes of the files counted in ferry_files_done_total.")
                      .Add({})),
      files_skipped_(NewFamily(BuildCounter(), *registry_, "ferry_files_skipped_total",
                               "Files left alone by the overwrite policy.")
                         .Add({})),
      bytes_skipped_(NewFamily(BuildCounter(), *registry_, "ferry_bytes_skipped_total",
                               "Bytes of the files counted in ferry_files_skipped_total.")
                         .Add({})),
      files_failed_(NewFamily(BuildCounter(), *registry_, "ferry_files_failed_total",
                              "Files failed for good, by status code.")),
      task_retries_(
          NewFamily(BuildCounter(), *registry_, "ferry_task_retries_total",
                    "Task attempts that failed and were queued again, by code.")),
      lease_expirations_(NewFamily(BuildCounter(), *registry_,
                                   "ferry_lease_expirations_total",
                                   "Leases that ran out without a report.")
                             .Add({})),
      tasks_leased_(NewFamily(BuildCounter(), *registry_, "ferry_tasks_leased_total",
                              "Tasks handed to workers.")
                        .Add({})),
      entries_planned_(NewFamily(BuildCounter(), *registry_,
                                 "ferry_entries_planned_total",
                                 "Source listing entries planned into tasks.")
                           .Add({})),
      planned_bytes_(NewFamily(BuildCounter(), *registry_, "ferry_planned_bytes_total",
                               "Bytes of the regular files planned.")
                         .Add({})),
      queued_tasks_(NewFamily(BuildGauge(), *registry_, "ferry_queued_tasks",
                              "Runnable tasks per priority class and user.")),
      queue_age_(NewFamily(BuildGauge(), *registry_, "ferry_queue_age_seconds",
                           "Age of the oldest transfer with runnable tasks, per priority "
                           "class and user.")),
      rocksdb_size_(NewFamily(BuildGauge(), *registry_, "ferry_rocksdb_size_bytes",
                              "RocksDB SST files plus memtables, all column families.")
                        .Add({})),
      rocksdb_delayed_write_rate_(NewFamily(BuildGauge(), *registry_,
                                            "ferry_rocksdb_delayed_write_rate_bytes",
                                            "Write rate RocksDB throttles to while it "
                                            "delays writes (bytes/s); 0 if not delayed.")
                                      .Add({})),
      rocksdb_write_stopped_(NewFamily(BuildGauge(), *registry_,
                                       "ferry_rocksdb_write_stopped",
                                       "1 while RocksDB stops writes (write stall).")
                                 .Add({})),
      rpc_duration_(
          NewFamily(BuildHistogram(), *registry_, "ferry_rpc_duration_seconds",
                    "Unary RPC latency, server side, by method and status code.")) {
  for (int state = 0; state < v1::TransferState_ARRAYSIZE; ++state) {
    if (state == v1::TRANSFER_STATE_UNSPECIFIED || !v1::TransferState_IsValid(state)) {
      continue;
    }
    transfers_by_state_[state] =
        &transfers_.Add({{"state", StateLabel(static_cast<v1::TransferState>(state))}});
  }
}

ControllerMetrics::~ControllerMetrics() = default;

void ControllerMetrics::SetSources(TransferManager* manager, Store* store) {
  absl::MutexLock lock(&mu_);
  manager_ = manager;
  store_ = store;
}

prometheus::Gauge* ControllerMetrics::StateGauge(v1::TransferState state) {
  if (state <= v1::TRANSFER_STATE_UNSPECIFIED || state >= v1::TransferState_ARRAYSIZE) {
    return nullptr;
  }
  return transfers_by_state_[state];
}

void ControllerMetrics::TransferStateChanged(v1::TransferState from,
                                             v1::TransferState to) {
  if (prometheus::Gauge* gauge = StateGauge(from); gauge != nullptr) gauge->Decrement();
  if (prometheus::Gauge* gauge = StateGauge(to); gauge != nullptr) gauge->Increment();
}

void ControllerMetrics::EntriesPlanned(int64_t entries, int64_t bytes) {
  entries_planned_.Increment(entries);
  planned_bytes_.Increment(bytes);
}

void ControllerMetrics::FilesDone(int64_t files, int64_t bytes, bool skipped) {
  (skipped ? files_skipped_ : files_done_).Increment(files);
  (skipped ? bytes_skipped_ : bytes_done_).Increment(bytes);
}

void ControllerMetrics::FilesFailed(absl::StatusCode code, int64_t files) {
  files_failed_.Add(CodeLabels(code)).Increment(files);
}

void ControllerMetrics::TaskRetried(absl::StatusCode code) {
  task_retries_.Add(CodeLabels(code)).Increment();
}

void ControllerMetrics::LeaseExpired() { lease_expirations_.Increment(); }

void ControllerMetrics::TasksLeased(int64_t tasks) { tasks_leased_.Increment(tasks); }

void ControllerMetrics::Refresh() {
  absl::MutexLock lock(&mu_);
  if (manager_ != nullptr) {
    absl::StatusOr<std::vector<QueueStat>> stats = manager_->QueueStats();
    if (!stats.ok()) {
      LOG(WARNING) << "metrics: reading queue stats: " << stats.status();
    } else {
      const absl::Time now = clock_->Now();
      std::vector<QueueLabels> exported;
      for (const QueueStat& stat : *stats) {
        exported.emplace_back(PriorityLabel(stat.priority), stat.user);
        const Labels labels{{"priority", exported.back().first}, {"user", stat.user}};
        queued_tasks_.Add(labels).Set(stat.queued);
        const absl::Duration age = stat.oldest_create_time == absl::InfinitePast()
                                       ? absl::ZeroDuration()
                                       : now - stat.oldest_create_time;
        queue_age_.Add(labels).Set(
            absl::ToDoubleSeconds(std::max(age, absl::ZeroDuration())));
      }
      // A queue that emptied loses its series rather than reporting 0 forever: the
      // label sets stay bounded by the users active now.
      for (const QueueLabels& old : exported_queues_) {
        if (std::find(exported.begin(), exported.end(), old) != exported.end()) continue;
        const Labels labels{{"priority", old.first}, {"user", old.second}};
        for (prometheus::Family<prometheus::Gauge>* family :
             {&queued_tasks_, &queue_age_}) {
          if (family->Has(labels)) family->Remove(&family->Add(labels));
        }
      }
      exported_queues_ = std::move(exported);
    }
  }
  if (store_ != nullptr) {
    const uint64_t sst =
        store_->GetIntProperty("rocksdb.total-sst-files-size", /*all_families=*/true)
            .value_or(0);
    const uint64_t memtables =
        store_->GetIntProperty("rocksdb.size-all-mem-tables", /*all_families=*/true)
            .value_or(0);
    rocksdb_size_.Set(static_cast<double>(sst + memtables));
    rocksdb_delayed_write_rate_.Set(static_cast<double>(
        store_->GetIntProperty("rocksdb.actual-delayed-write-rate").value_or(0)));
    rocksdb_write_stopped_.Set(static_cast<double>(
        store_->GetIntProperty("rocksdb.is-write-stopped").value_or(0)));
  }
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
ControllerMetrics::NewRpcInterceptorFactory() {
  return std::make_unique<RpcTimerFactory>(this);
}

void ControllerMetrics::RecordRpc(absl::string_view method, absl::StatusCode code,
                                  absl::Duration elapsed) {
  prometheus::Histogram* histogram = nullptr;
  {
    absl::MutexLock lock(&rpc_mu_);
    prometheus::Histogram*& cached = rpc_histograms_[{std::string(method), code}];
    if (cached == nullptr) {
      cached = &rpc_duration_.Add(
          {{"method", std::string(method)}, {"code", absl::StatusCodeToString(code)}},
          RpcBuckets());
    }
    histogram = cached;
  }
  histogram->Observe(absl::ToDoubleSeconds(elapsed));
}

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address, const ControllerMetrics& metrics, int* port) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on '", address, "': ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(
        absl::StrCat("metrics: no port bound for '", address, "'"));
  }
  exposer->RegisterCollectable(metrics.scrape_target());
  if (port != nullptr) *port = ports[0];
  return exposer;
}

}  // namespace ferry::controller
