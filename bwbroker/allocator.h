// Allocator: the broker's allocation, a pure and deterministic function from the
// configuration and the demands of the flow groups to their grants. No clock, no locks,
// no I/O, so every rule is testable on hand-computed cases.
//
// The problem decomposes per link: a flow group (source, destination, user, class) uses
// exactly the link from its source cluster to its destination cluster, so links never
// compete for a group and each link is solved on its own. On a link of capacity C:
//   1. Guaranteed quotas: a PRIORITY_CLASS_GUARANTEED group whose user has a quota on
//      the link gets min(quota, demand) first (the config keeps quotas <= C).
//   2. Then the classes in strict order GUARANTEED > BATCH > BEST_EFFORT
//      (proto/common.proto): a class shares only what the classes above it left.
//   3. Within a class, weighted max-min fairness (water-filling) over its groups by
//      their user's weight (per-class weight, else the user's weight, else 1), on the
//      demand not already served by a quota. A group never gets more than it demands;
//      what a group does not need goes to the others of its class, then to the classes
//      below. One user has one group per link and class, so "users by weight" and
//      "groups by their user's weight" are the same level.
// Pairs of clusters with no configured link get default_capacity_bytes_per_second as a
// link of their own, or, when that is 0, are unconstrained (grant = demand).
//
// Numbers: grants are whole bytes per second (demands and capacities are rounded down),
// computed so that every partial sum is exact in a double (capacities are <= 1e15 <
// 2^53). Hence the sum of the grants on a link never exceeds its capacity, whatever the
// order of summation. Rounding costs at most 1 byte/s per group.
// Priority PRIORITY_CLASS_UNSPECIFIED (or an unknown value) counts as BATCH. A negative
// or NaN demand counts as 0.
//
// Cost: O(G log G) for G groups (hash lookups plus one sort per link); 10,000 groups
// over 100 links take 1-2 ms with -c opt (tools/bench/broker_bench).
//
// Determinism: the same config and the same demands in the same order give the same
// grants; input order only decides who gets the last rounding byte among equals.
//
// Thread safety: an Allocator is immutable after construction; Allocate is const and
// may run concurrently.
#ifndef FERRY_BWBROKER_ALLOCATOR_H_
#define FERRY_BWBROKER_ALLOCATOR_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "bwbroker/config.pb.h"
#include "proto/common.pb.h"

namespace ferry::bwbroker {

// The unit of allocation (ferry.v1.FlowGroup as a hashable value).
struct FlowGroupKey {
  std::string source_cluster;
  std::string destination_cluster;
  std::string user;
  v1::PriorityClass priority = v1::PRIORITY_CLASS_BATCH;

  friend bool operator==(const FlowGroupKey& a, const FlowGroupKey& b) {
    return a.priority == b.priority && a.user == b.user && a.source_cluster == b.source_cluster &&
           a.destination_cluster == b.destination_cluster;
  }
  friend bool operator!=(const FlowGroupKey& a, const FlowGroupKey& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const FlowGroupKey& key) {
    return H::combine(std::move(h), key.source_cluster, key.destination_cluster, key.user,
                      static_cast<int>(key.priority));
  }
};

struct GroupDemand {
  FlowGroupKey group;
  double bytes_per_second = 0;
};

// One link's outcome.
struct LinkUsage {
  std::string source_cluster;
  std::string destination_cluster;
  // +infinity for an unconstrained pair (no link configured, no default capacity).
  double capacity_bytes_per_second = 0;
  bool configured = false;                // In the config's links, not implied by a demand.
  double demand_bytes_per_second = 0;     // Sum of the groups' demands, rounded down.
  double allocated_bytes_per_second = 0;  // Sum of their grants.
  std::vector<size_t> groups;             // Indices into the demands, in input order.
};

struct Allocation {
  std::vector<double> grants;  // grants[i] belongs to demands[i].
  // The configured links in config order (also those without demand), then the
  // implied ones in order of first appearance.
  std::vector<LinkUsage> links;
};

class Allocator {
 public:
  // `config` must have passed ValidateAndComplete (bwbroker/config.h); if it did not,
  // later duplicates win and nothing crashes.
  explicit Allocator(const BrokerConfig& config);

  Allocation Allocate(absl::Span<const GroupDemand> demands) const;

  // The weight of `user` in class `priority` (UNSPECIFIED counts as BATCH).
  double WeightOf(absl::string_view user, v1::PriorityClass priority) const;

 private:
  struct LinkSpec {
    std::string source_cluster;
    std::string destination_cluster;
    double capacity = 0;
    absl::flat_hash_map<std::string, double> quotas;  // by user
  };
  struct UserWeights {
    double any_class = 1;
    double by_class[v1::PriorityClass_ARRAYSIZE] = {};  // 0: use any_class
  };
  struct Work;  // Scratch state of one Allocate call.

  // Index into links_ of the configured link source -> destination, or -1.
  int FindLink(absl::string_view source, absl::string_view destination) const;
  void AllocateLink(const LinkSpec* spec, absl::Span<const GroupDemand> demands, LinkUsage& link,
                    Work& work) const;

  std::vector<LinkSpec> links_;
  // source -> destination -> index into links_.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int>> link_index_;
  absl::flat_hash_map<std::string, UserWeights> weights_;
  double default_capacity_ = 0;  // 0: unconstrained.
};

// BATCH for UNSPECIFIED and values outside the enum; the class itself otherwise.
v1::PriorityClass EffectivePriority(v1::PriorityClass priority);

}  // namespace ferry::bwbroker

#endif  // FERRY_BWBROKER_ALLOCATOR_H_
