// ControllerMetrics: the controller's Prometheus metrics (names and meanings in
// controller/README.md, "Metrics").
//
// Three sources feed one prometheus::Registry:
//   - ManagerObserver events from the TransferManager (transfers by state, files, bytes,
//     failures and retries by code, leases, planning), counted as they commit;
//   - Refresh(), run at every scrape (ScrapeTarget) or by hand, which reads queue depth
//     and age per (priority class, user) from TransferManager::QueueStats and RocksDB's
//     size and write-stall properties from the Store;
//   - a gRPC server interceptor (NewRpcInterceptorFactory) timing every unary RPC.
//
// Wiring (controller/main.cc): construct, pass as the TransferManager's observer (so
// the recovery events at start are counted), SetSources(), add the interceptor factory
// to the ServerBuilder, and serve with StartMetricsExposer.
//
// Thread safety: all methods are safe to call concurrently. Observer callbacks only
// touch Prometheus' own atomics and locks, never the lock Refresh holds while it calls
// into the manager, so the manager's mutex is never taken under ours in reverse order.
#ifndef FERRY_CONTROLLER_METRICS_H_
#define FERRY_CONTROLLER_METRICS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/observer.h"
#include "controller/store.h"
#include "controller/transfer_manager.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "proto/common.pb.h"

namespace ferry::controller {

class ControllerMetrics : public ManagerObserver {
 public:
  // `clock` (for queue age) must outlive this object.
  explicit ControllerMetrics(const Clock* clock);
  ~ControllerMetrics() override;

  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  // What Refresh reads (either may be null: that part is skipped). Both must outlive
  // this object or be replaced first.
  void SetSources(TransferManager* manager, Store* store);

  // Re-reads the queue gauges and the RocksDB gauges. Must not be called with the
  // manager's mutex held (it is not an observer callback).
  void Refresh();

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // What an Exposer serves: Refresh(), then everything in registry().
  std::weak_ptr<prometheus::Collectable> scrape_target() const { return scrape_target_; }

  // A factory for ServerBuilder::experimental().SetInterceptorCreators whose
  // interceptors record ferry_rpc_duration_seconds for every unary RPC (server
  // streaming calls such as WatchTransfer last as long as the client watches, so they
  // are not timed). This object must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewRpcInterceptorFactory();
  // Records one finished RPC (what the interceptor calls).
  void RecordRpc(absl::string_view method, absl::StatusCode code, absl::Duration elapsed);

  // ---- ManagerObserver ----
  void TransferStateChanged(v1::TransferState from, v1::TransferState to) override;
  void EntriesPlanned(int64_t entries, int64_t bytes) override;
  void FilesDone(int64_t files, int64_t bytes, bool skipped) override;
  void FilesFailed(absl::StatusCode code, int64_t files) override;
  void TaskRetried(absl::StatusCode code) override;
  void LeaseExpired() override;
  void TasksLeased(int64_t tasks) override;

 private:
  class ScrapeTarget;
  using QueueLabels = std::pair<std::string, std::string>;  // (priority, user)

  prometheus::Gauge* StateGauge(v1::TransferState state);

  const Clock* const clock_;
  const std::shared_ptr<prometheus::Registry> registry_;
  const std::shared_ptr<prometheus::Collectable> scrape_target_;

  prometheus::Family<prometheus::Gauge>& transfers_;
  std::array<prometheus::Gauge*, v1::TransferState_ARRAYSIZE> transfers_by_state_{};
  prometheus::Counter& files_done_;
  prometheus::Counter& bytes_done_;
  prometheus::Counter& files_skipped_;
  prometheus::Counter& bytes_skipped_;
  prometheus::Family<prometheus::Counter>& files_failed_;
  prometheus::Family<prometheus::Counter>& task_retries_;
  prometheus::Counter& lease_expirations_;
  prometheus::Counter& tasks_leased_;
  prometheus::Counter& entries_planned_;
  prometheus::Counter& planned_bytes_;
  prometheus::Family<prometheus::Gauge>& queued_tasks_;
  prometheus::Family<prometheus::Gauge>& queue_age_;
  prometheus::Gauge& rocksdb_size_;
  prometheus::Gauge& rocksdb_delayed_write_rate_;
  prometheus::Gauge& rocksdb_write_stopped_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;

  // Histograms by (method, code), so an RPC does not allocate to find its own.
  absl::Mutex rpc_mu_;
  absl::flat_hash_map<std::pair<std::string, absl::StatusCode>, prometheus::Histogram*>
      rpc_histograms_ ABSL_GUARDED_BY(rpc_mu_);

  absl::Mutex mu_;  // Serializes Refresh; never taken by observer callbacks.
  TransferManager* manager_ ABSL_GUARDED_BY(mu_) = nullptr;
  Store* store_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Queue series exported by the last Refresh; removed when their queue empties.
  std::vector<QueueLabels> exported_queues_ ABSL_GUARDED_BY(mu_);
};

// The label value for a transfer state ("running") or priority class ("best_effort").
std::string StateLabel(v1::TransferState state);
std::string PriorityLabel(v1::PriorityClass priority);

// Serves `metrics` (scrape_target) at http://<address>/metrics. `address` is
// host:port ("127.0.0.1:9464"; port 0 picks one, written to `*port`). UNAVAILABLE if
// it cannot listen. `metrics` must outlive the returned exposer.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsExposer(
    const std::string& address, const ControllerMetrics& metrics, int* port);

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_METRICS_H_
