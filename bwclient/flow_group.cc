#include "bwclient/flow_group.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/location.h"

namespace ferry::bwclient {
namespace {

absl::Status ValidateGroup(const v1::FlowGroup& group, const std::string& field) {
  if (absl::Status status =
          ValidateClusterName(group.source_cluster(), absl::StrCat(field, ".source_cluster"));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = ValidateClusterName(group.destination_cluster(),
                                                absl::StrCat(field, ".destination_cluster"));
      !status.ok()) {
    return status;
  }
  if (group.priority() == v1::PRIORITY_CLASS_UNSPECIFIED ||
      !v1::PriorityClass_IsValid(group.priority())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".priority must be a priority class, got ", group.priority()));
  }
  return absl::OkStatus();
}

}  // namespace

FlowGroupKey KeyOf(const v1::FlowGroup& group) {
  return {group.source_cluster(), group.destination_cluster(), group.user(),
          static_cast<int>(group.priority())};
}

v1::FlowGroup GroupOf(const FlowGroupKey& key) {
  v1::FlowGroup group;
  group.set_source_cluster(std::get<0>(key));
  group.set_destination_cluster(std::get<1>(key));
  group.set_user(std::get<2>(key));
  group.set_priority(static_cast<v1::PriorityClass>(std::get<3>(key)));
  return group;
}

std::string FlowGroupName(const v1::FlowGroup& group) {
  const std::string priority = v1::PriorityClass_IsValid(group.priority())
                                   ? v1::PriorityClass_Name(group.priority())
                                   : std::to_string(group.priority());
  return absl::StrCat(group.source_cluster(), "->", group.destination_cluster(),
                      " user=", group.user(), " ", priority);
}

absl::Status ValidateDemands(absl::Span<const v1::FlowDemand> demands) {
  absl::flat_hash_map<FlowGroupKey, size_t> first_index;
  for (size_t i = 0; i < demands.size(); ++i) {
    const std::string field = absl::StrCat("demands[", i, "]");
    if (absl::Status status = ValidateGroup(demands[i].group(), field + ".group"); !status.ok()) {
      return status;
    }
    const double demand = demands[i].demand_bytes_per_second();
    if (!std::isfinite(demand) || demand < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".demand_bytes_per_second must be finite and >= 0, got ", demand));
    }
    const auto [it, inserted] = first_index.emplace(KeyOf(demands[i].group()), i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".group repeats demands[", it->second, "].group"));
    }
  }
  return absl::OkStatus();
}

}  // namespace ferry::bwclient
