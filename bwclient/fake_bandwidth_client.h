// FakeBandwidthClient: an in-memory BandwidthClient for the controller's unit tests.
//
// Rates are whatever the test sets: SetRate for one group, otherwise the default rate
// (reported with basis kFloor). ReplaceDemands validates like the real client
// (bwclient/flow_group.h) and records the last accepted list for the test to read.
// Nothing runs in the background and no time passes.
//
// Thread safety: every method may be called concurrently.
#ifndef FERRY_BWCLIENT_FAKE_BANDWIDTH_CLIENT_H_
#define FERRY_BWCLIENT_FAKE_BANDWIDTH_CLIENT_H_

#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bwclient/bandwidth_client.h"
#include "bwclient/flow_group.h"

namespace ferry::bwclient {

class FakeBandwidthClient : public BandwidthClient {
 public:
  explicit FakeBandwidthClient(double default_rate_bytes_per_second = 1 << 20);

  absl::Status ReplaceDemands(absl::Span<const v1::FlowDemand> demands) override;
  double RateFor(const v1::FlowGroup& group) const override;
  BandwidthSnapshot Snapshot() const override;

  // The test's script.
  void SetRate(const v1::FlowGroup& group, double bytes_per_second);
  void SetDefaultRate(double bytes_per_second);
  void SetBrokerReachable(bool reachable);

  // What the code under test did.
  std::vector<v1::FlowDemand> demands() const;  // The last accepted list.
  int replace_calls() const;                    // Accepted ReplaceDemands calls.

 private:
  mutable absl::Mutex mu_;
  double default_rate_ ABSL_GUARDED_BY(mu_);
  std::map<FlowGroupKey, double> rates_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::FlowDemand> demands_ ABSL_GUARDED_BY(mu_);
  int replace_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool broker_reachable_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace ferry::bwclient

#endif  // FERRY_BWCLIENT_FAKE_BANDWIDTH_CLIENT_H_
