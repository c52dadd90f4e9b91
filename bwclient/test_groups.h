// Flow groups and demands for bwclient's unit tests (and the controller's, with the
// fake): every group runs from cluster "a" to cluster "b" at BATCH priority and differs
// by user only. Thread safety: pure functions.
#ifndef FERRY_BWCLIENT_TEST_GROUPS_H_
#define FERRY_BWCLIENT_TEST_GROUPS_H_

#include <string>

#include "proto/bandwidth_broker.pb.h"

namespace ferry::bwclient {

inline v1::FlowGroup TestGroup(const std::string& user) {
  v1::FlowGroup group;
  group.set_source_cluster("a");
  group.set_destination_cluster("b");
  group.set_user(user);
  group.set_priority(v1::PRIORITY_CLASS_BATCH);
  return group;
}

inline v1::FlowDemand TestDemand(const std::string& user, double bytes_per_second) {
  v1::FlowDemand demand;
  *demand.mutable_group() = TestGroup(user);
  demand.set_demand_bytes_per_second(bytes_per_second);
  return demand;
}

}  // namespace ferry::bwclient

#endif  // FERRY_BWCLIENT_TEST_GROUPS_H_
