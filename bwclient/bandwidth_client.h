// BandwidthClient: the narrow interface between ferry and its bandwidth broker.
//
// The controller tells it how much each flow group could use (ReplaceDemands) and asks
// how much each may use now (RateFor); it divides a group's rate among its copyd workers,
// which enforce their shares with token buckets (common/token_bucket.h) on DataService
// bytes. Nothing here knows how the broker allocates.
//
// Rates are bytes per second, always finite and >= 0, and never "unlimited": a group the
// client knows nothing about gets the configured floor. 0 means "send nothing now" and
// happens only while the broker's own grant of 0 is valid. NOTE: worker_service.proto's
// RateLimit and TokenBucket read 0 as "no limit", so a caller must not forward a rate of
// 0 unchanged; it should stop leasing the group's tasks (stalled: "no bandwidth").
//
// Implementations: GrpcBandwidthClient (grpc_bandwidth_client.h, with the fail-static
// rule) and FakeBandwidthClient (fake_bandwidth_client.h, for unit tests).
//
// Thread safety: every method may be called concurrently.
#ifndef FERRY_BWCLIENT_BANDWIDTH_CLIENT_H_
#define FERRY_BWCLIENT_BANDWIDTH_CLIENT_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/bandwidth_broker.pb.h"

namespace ferry::bwclient {

// Why a group has the rate it has.
enum class RateBasis {
  kGrant,         // The broker's grant, whose lease is still valid.
  kExpiredGrant,  // The lease ended: the floor, capped by the last grant.
  kFloor,         // Never granted (or granted 0, then expired): the floor.
};

struct FlowGroupRate {
  v1::FlowGroup group;
  double demand_bytes_per_second = 0;  // 0: not reported any more.
  double rate_bytes_per_second = 0;    // What RateFor returns now.
  RateBasis basis = RateBasis::kFloor;
  double last_grant_bytes_per_second = 0;          // Meaningful unless basis is kFloor.
  absl::Time lease_expiry = absl::InfinitePast();  // Of the last grant.
};

// For metrics, logs and stalled reasons.
struct BandwidthSnapshot {
  std::vector<FlowGroupRate> groups;  // Sorted by group.
  // Whether the last report was answered with a usable response.
  bool broker_reachable = false;
  int consecutive_failures = 0;
  absl::Status last_error;                         // OK after a success.
  absl::Time last_success = absl::InfinitePast();  // Of a report.
  absl::Time next_report = absl::InfinitePast();   // When the next report is due.
  int64_t reports_attempted = 0;                   // Finished attempts, for tests and metrics.
};

class BandwidthClient {
 public:
  virtual ~BandwidthClient() = default;

  // Replaces every demand with `demands` (a group not listed has no demand; entries with
  // demand 0 are accepted and not reported). INVALID_ARGUMENT naming the field for an
  // invalid list (bwclient/flow_group.h), which then changes nothing.
  virtual absl::Status ReplaceDemands(absl::Span<const v1::FlowDemand> demands) = 0;

  // Bytes per second `group` may use now (see the top of this file).
  virtual double RateFor(const v1::FlowGroup& group) const = 0;

  virtual BandwidthSnapshot Snapshot() const = 0;
};

}  // namespace ferry::bwclient

#endif  // FERRY_BWCLIENT_BANDWIDTH_CLIENT_H_
