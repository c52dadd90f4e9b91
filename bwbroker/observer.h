// RecomputeObserver: what the broker tells its metrics after every recompute.
//
// Broker (bwbroker/broker.h) calls Recomputed with its lock held, right after each
// allocation, with the aggregated demand of every flow group and the allocation that
// answers it. Implementations must be quick, must not call back into the broker, and
// must not keep the references past the call.
#ifndef FERRY_BWBROKER_OBSERVER_H_
#define FERRY_BWBROKER_OBSERVER_H_

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bwbroker/allocator.h"

namespace ferry::bwbroker {

class RecomputeObserver {
 public:
  virtual ~RecomputeObserver() = default;
  // `demands[i]` (summed over clients) was granted `allocation.grants[i]`; `elapsed` is
  // the wall time the recompute took (aggregation and allocation).
  virtual void Recomputed(absl::Span<const GroupDemand> demands, const Allocation& allocation,
                          absl::Duration elapsed) = 0;
};

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_OBSERVER_H_
