// RateLimiter: copyd's enforcement of its bandwidth shares, one TokenBucket per flow
// group (common/token_bucket.h) shared by every executor thread, so a group's rate
// holds across all of this worker's tasks in it.
//
// Rates come from each HeartbeatResponse's rate_limits (Update): the controller's share
// of the broker's grant for this worker (controller/bandwidth_manager.h). Only the bytes
// of remote reads pay (ThrottledChunkSource, DataService data blocks, not holes); local
// copies, RocksDB and control RPCs never do.
//
// Groups: "" (no flow group) and a group never limited pass at once. A group absent
// from a heartbeat keeps its last rate for `keep_absent` after it was last listed, then
// is dropped (unlimited): the controller lists only groups this worker has tasks in,
// so a task leased between two heartbeats reuses its group's rate instead of bursting,
// while a controller that stopped limiting (no broker any more) is obeyed soon. A rate
// of 0 (no limit, as in RateLimit) drops the group at once.
//
// Burst: max(min_burst_bytes, rate x burst_time), so a group may run ahead of its rate
// by that much after an idle spell, and no more.
//
// Ownership: the clock is not owned and must outlive the limiter. Thread safety: every
// method may be called concurrently; a bucket lives while an Acquire uses it.
#ifndef FERRY_COPYD_RATE_LIMITER_H_
#define FERRY_COPYD_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/token_bucket.h"
#include "google/protobuf/repeated_field.h"
#include "proto/worker_service.pb.h"

namespace ferry::copyd {

struct RateLimiterOptions {
  absl::Duration keep_absent = absl::Seconds(30);
  absl::Duration burst_time = absl::Milliseconds(50);
  int64_t min_burst_bytes = 64 << 10;
};

class RateLimiter {
 public:
  explicit RateLimiter(const Clock* clock, RateLimiterOptions options = {});

  // Applies the limits of one HeartbeatResponse (see the top of this file). A limit
  // with an empty group or a negative or non-finite rate is ignored and logged.
  void Update(const google::protobuf::RepeatedPtrField<v1::RateLimit>& limits);

  // Blocks until `bytes` of `flow_group` may pass. CANCELLED once `*abort` (may be
  // null) is true while waiting; then nothing is taken.
  absl::Status Acquire(const std::string& flow_group, int64_t bytes,
                       const std::atomic<bool>* abort);

  // The group's current rate, 0 when unlimited; for tests, logs and metrics.
  double RateOf(const std::string& flow_group) const;

 private:
  struct Group {
    std::shared_ptr<TokenBucket> bucket;
    absl::Time last_listed;
  };

  void SetLocked(const std::string& flow_group, double bytes_per_second, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const RateLimiterOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Group> groups_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_RATE_LIMITER_H_
