// AllocationSnapshot and RecomputeObserver: what the broker publishes after every
// recompute.
//
// Broker (bwbroker/broker.h) builds a new immutable snapshot per recompute and hands a
// shared pointer to its observer (the metrics), so an observer may keep it as long as
// it likes and read it later (at scrape time) without the broker's lock and without
// copying 10,000 groups per recompute.
#ifndef FERRY_BWBROKER_OBSERVER_H_
#define FERRY_BWBROKER_OBSERVER_H_

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "bwbroker/allocator.h"

namespace ferry::bwbroker {

// One recompute's input and output. Never changed after it is published.
struct AllocationSnapshot {
  // Demand per flow group summed over the clients that reported it.
  std::vector<GroupDemand> groups;
  Allocation allocation;  // allocation.grants[i] belongs to groups[i].
  absl::Time computed_time;
};

class RecomputeObserver {
 public:
  virtual ~RecomputeObserver() = default;
  // Called with the broker's lock held, right after each recompute: must be quick and
  // must not call back into the broker. `elapsed` is the wall time of the recompute
  // (aggregation and allocation).
  virtual void Recomputed(std::shared_ptr<const AllocationSnapshot> snapshot,
                          absl::Duration elapsed) = 0;
};

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_OBSERVER_H_
