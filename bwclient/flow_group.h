// Flow groups as map keys, in log lines, and the validation of demand lists, shared by
// every BandwidthClient implementation so the real client and the fake accept exactly
// the same input.
//
// A demand list is valid when every entry names a flow group with valid cluster names
// (common/location.h rules), a priority class other than UNSPECIFIED, and a finite
// demand >= 0, and no group appears twice. Errors are INVALID_ARGUMENT naming the field
// (e.g. "demands[2].group.priority").
//
// Thread safety: pure functions.
#ifndef FERRY_BWCLIENT_FLOW_GROUP_H_
#define FERRY_BWCLIENT_FLOW_GROUP_H_

#include <string>
#include <tuple>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/bandwidth_broker.pb.h"

namespace ferry::bwclient {

// (source_cluster, destination_cluster, user, priority): hashable and ordered.
using FlowGroupKey = std::tuple<std::string, std::string, std::string, int>;

FlowGroupKey KeyOf(const v1::FlowGroup& group);
v1::FlowGroup GroupOf(const FlowGroupKey& key);

// "a->b user=alice BATCH", for logs and errors.
std::string FlowGroupName(const v1::FlowGroup& group);

absl::Status ValidateDemands(absl::Span<const v1::FlowDemand> demands);

}  // namespace ferry::bwclient

#endif  // FERRY_BWCLIENT_FLOW_GROUP_H_
