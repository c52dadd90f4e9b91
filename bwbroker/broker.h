// Broker: the bandwidth broker's soft state and its recompute loop, behind the
// BandwidthBroker RPCs (bwbroker/broker_service.h adapts it to gRPC).
//
// State, all in memory and rebuilt from reports after a restart:
//   - per client_id, its latest demands and when it last reported. A report replaces
//     that client's demands entirely; a client silent for longer than
//     client_expiry_intervals x report_interval is forgotten with its demands.
//   - the last allocation: demands summed per flow group over all clients, then
//     Allocator (bwbroker/allocator.h) over the configured links.
// A client's grant for a flow group is the group's grant split between the group's
// clients in proportion to their demands (rounded down to whole bytes/s).
//
// When it recomputes: every recompute_period (its own thread, Start/Stop, timed by the
// injected Clock), and synchronously inside ReportDemands whenever the report changes
// that client's demands, so the reply always carries grants computed from the demands
// just reported. Why synchronous and not "mark dirty and wait for the next period": the
// reply must be current, a recompute of 10,000 groups takes milliseconds
// (tools/bench/broker_bench), and a report that changes nothing (the steady state of a
// client renewing its lease) costs no recompute at all. The cost is that reports
// serialize behind recomputes: with T ms per recompute the broker answers about
// 1000 / T changing reports per second.
//
// Grants carry lease_expiry = now + lease_duration. After a restart the first report of
// each client rebuilds its demands; until every client has reported once (one report
// interval), clients that have not yet reported keep their previous grants (leases),
// so a link may briefly carry more than its capacity; the same holds for one report
// interval after any client's demand rises.
//
// Errors: ReportDemands returns INVALID_ARGUMENT naming the field (empty or oversized
// client_id, a flow group without a valid cluster name or user, an unknown priority,
// a negative or non-finite demand, demands[i] repeating an earlier group). Priority
// UNSPECIFIED counts as BATCH.
//
// Thread safety: all public methods may be called concurrently; one mutex guards the
// state, and the observer is called with it held.
#ifndef FERRY_BWBROKER_BROKER_H_
#define FERRY_BWBROKER_BROKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bwbroker/allocator.h"
#include "bwbroker/config.pb.h"
#include "bwbroker/observer.h"
#include "common/clock.h"
#include "proto/bandwidth_broker.pb.h"

namespace ferry::bwbroker {

class Broker {
 public:
  // `config` must have passed ValidateAndComplete. `clock` and `observer` (may be null)
  // must outlive the broker. Computes an empty allocation at once, so ListAllocations
  // shows the configured links before any report.
  Broker(BrokerConfig config, const Clock* clock, RecomputeObserver* observer = nullptr);
  ~Broker();  // Stops the loop.

  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Starts the periodic recompute thread; Stop ends it (both idempotent, from one
  // thread).
  void Start();
  void Stop();

  absl::StatusOr<v1::ReportDemandsResponse> ReportDemands(const v1::ReportDemandsRequest& request);
  v1::ListAllocationsResponse ListAllocations() const;

  // One period's work: forget silent clients, then recompute. The loop calls it; tests
  // may call it directly.
  void Tick();

  int64_t recompute_count() const;
  size_t client_count() const;

 private:
  struct Client {
    std::vector<GroupDemand> demands;  // Validated; priority made effective.
    absl::Time last_report;
  };

  void Run(absl::Time first_tick);
  void TickLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecomputeLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // This client's part of its group's grant.
  double ClientGrantLocked(const GroupDemand& demand) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Hash and equality of the group a pointer points to: the index refers to the keys
  // inside the snapshot instead of copying them.
  struct KeyHash {
    size_t operator()(const FlowGroupKey* key) const { return absl::HashOf(*key); }
  };
  struct KeyEq {
    bool operator()(const FlowGroupKey* a, const FlowGroupKey* b) const { return *a == *b; }
  };

  const BrokerConfig config_;
  const Allocator allocator_;
  const Clock* const clock_;
  RecomputeObserver* const observer_;

  mutable absl::Mutex mu_;
  absl::btree_map<std::string, Client> clients_ ABSL_GUARDED_BY(mu_);  // by client_id
  // The last recompute, and the index of its groups (keys point into *snapshot_).
  std::shared_ptr<const AllocationSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const FlowGroupKey*, size_t, KeyHash, KeyEq> group_index_
      ABSL_GUARDED_BY(mu_);
  int64_t recomputes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_BROKER_H_
