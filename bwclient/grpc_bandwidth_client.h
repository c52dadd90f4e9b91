// GrpcBandwidthClient: the production BandwidthClient, over BandwidthBroker.ReportDemands.
//
// A background thread reports every demand (groups with demand > 0) in one
// ReportDemands call, each with a deadline of rpc_timeout:
//   - after an answer, again after the broker's report_interval_ms (clamped to
//     [min_report_interval, max_report_interval]; default_report_interval before the
//     first answer), but never later than halfway to the earliest lease it holds for a
//     group with demand, so leases are renewed before they end;
//   - after a failure (RPC error or unusable response), after an exponential backoff:
//     the n-th consecutive failure waits a uniformly random time in [d/2, d] with
//     d = min(initial_backoff * 2^(n-1), max_backoff, report interval), so a restarted
//     broker hears from every client within one report interval, not all at once;
//   - early, at most min_report_interval after the last attempt, when a group gains
//     demand that was not in the last report (unless backing off), so a new transfer
//     does not wait a whole interval at the floor.
// Time comes from the injected Clock (the loop waits with Clock::AwaitWithDeadline, so
// SimulatedClock drives it in tests); only the RPC deadline is wall-clock time, as gRPC
// requires.
//
// Fail-static rule (RateFor), for a group:
//   1. while the lease of its last grant is valid: that grant (even 0: the broker's
//      decision stands while it is valid);
//   2. after the lease ends: min(floor, last grant) if the last grant was > 0;
//   3. never granted, or the last grant was 0 and has lapsed: the floor.
// Why: a broker outage must never stop a group dead (the floor is > 0, and rule 2 never
// drops below min(floor, what the broker last allowed)), and must never make a group
// burst above what the broker last allowed (rule 2 caps at the last grant), so N
// clients losing the broker together add no load the broker had not agreed to, beyond
// the floor. The floor is the rate an operator deems safe for any group with no
// coordination; a group that never got a grant, or whose 0 grant lapsed, is in that
// position (rule 3), and it must not starve for the whole outage. A lease further than
// max_lease away counts as max_lease from receipt, so a broker bug cannot pin a grant.
//
// Unusable responses (wrong number of grants, a grant for another group, a negative or
// non-finite rate, an invalid lease_expiry) are ignored whole, logged as errors and
// count as failures. A grant whose group is empty is taken to be for the demand at its
// position. The broker replaces this client's demands at every report, so a group with
// no demand is simply not reported; its state is dropped at a successful report once its
// lease has ended.
//
// Reconnection: the channel underneath has its own reconnect backoff (gRPC's default
// grows to 120 s). Build it with BrokerChannelArguments(options) so it never waits longer
// than max_backoff either. (With a refused connection this gRPC recovered just as fast
// without it in grpc_bandwidth_client_channel_test; the cap is for brokers that vanish
// without refusing, where connection attempts time out and the channel backs off.)
//
// Ownership: `stub` and `clock` are not owned and must outlive the client; the stub is
// built by the caller from its channel, so credentials stay outside. Lifecycle: Create,
// Start once, Stop (joins; cancels an RPC in flight); the destructor stops. Thread
// safety: every method may be called concurrently.
#ifndef FERRY_BWCLIENT_GRPC_BANDWIDTH_CLIENT_H_
#define FERRY_BWCLIENT_GRPC_BANDWIDTH_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bwclient/bandwidth_client.h"
#include "bwclient/flow_group.h"
#include "common/clock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/channel_arguments.h"
#include "proto/bandwidth_broker.grpc.pb.h"

namespace ferry::bwclient {

struct GrpcBandwidthClientOptions {
  // Stable id reported to the broker, e.g. "controller/<cluster>". Required.
  std::string client_id;
  // Fail-static floor (see above); > 0.
  double floor_bytes_per_second = 1 << 20;
  absl::Duration default_report_interval = absl::Seconds(5);
  absl::Duration min_report_interval = absl::Milliseconds(100);
  absl::Duration max_report_interval = absl::Seconds(60);
  absl::Duration rpc_timeout = absl::Seconds(5);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  absl::Duration max_lease = absl::Minutes(10);
};

// Arguments for the caller's channel to the broker: gRPC's reconnect backoff from
// initial_backoff up to max_backoff, matching the report loop's.
grpc::ChannelArguments BrokerChannelArguments(const GrpcBandwidthClientOptions& options);

class GrpcBandwidthClient : public BandwidthClient {
 public:
  // INVALID_ARGUMENT naming the option (or argument) that is missing or out of range.
  static absl::StatusOr<std::unique_ptr<GrpcBandwidthClient>> Create(
      v1::BandwidthBroker::StubInterface* stub, const Clock* clock,
      GrpcBandwidthClientOptions options);
  ~GrpcBandwidthClient() override;

  GrpcBandwidthClient(const GrpcBandwidthClient&) = delete;
  GrpcBandwidthClient& operator=(const GrpcBandwidthClient&) = delete;

  // Starts the report loop; the first report goes out at once.
  void Start();
  // Stops the loop and joins it. Idempotent.
  void Stop();

  absl::Status ReplaceDemands(absl::Span<const v1::FlowDemand> demands) override;
  double RateFor(const v1::FlowGroup& group) const override;
  BandwidthSnapshot Snapshot() const override;

 private:
  struct GroupState {
    double demand = 0;
    bool in_last_report = false;
    bool granted = false;
    double last_grant = 0;
    absl::Time lease_expiry = absl::InfinitePast();
  };

  GrpcBandwidthClient(v1::BandwidthBroker::StubInterface* stub, const Clock* clock,
                      GrpcBandwidthClientOptions options);

  void ReportLoop();
  // Waits until a report is due; false when stopping.
  bool WaitUntilReportDue();
  v1::ReportDemandsRequest BuildRequestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Report(const v1::ReportDemandsRequest& request, v1::ReportDemandsResponse* response);
  void ApplyGrantsLocked(const v1::ReportDemandsRequest& request,
                         const v1::ReportDemandsResponse& response, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordFailureLocked(const absl::Status& error, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration RenewalDelayLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PruneLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reschedules the next report to `when` if that is earlier, waking the loop.
  void ReportNoLaterThanLocked(absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FlowGroupRate RateLocked(const FlowGroupKey& key, const GroupState& state, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::BandwidthBroker::StubInterface* const stub_;
  const Clock* const clock_;
  const GrpcBandwidthClientOptions options_;

  mutable absl::Mutex mu_;
  std::map<FlowGroupKey, GroupState> groups_ ABSL_GUARDED_BY(mu_);
  absl::Duration report_interval_ ABSL_GUARDED_BY(mu_);
  absl::Time next_report_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_success_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Bumped whenever next_report_ moves earlier or Stop is called, to wake the loop.
  uint64_t schedule_generation_ ABSL_GUARDED_BY(mu_) = 0;
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  int64_t reports_attempted_ ABSL_GUARDED_BY(mu_) = 0;
  absl::BitGen jitter_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace ferry::bwclient

#endif  // FERRY_BWCLIENT_GRPC_BANDWIDTH_CLIENT_H_
