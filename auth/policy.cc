#include "auth/policy.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth/principal.h"
#include "common/location.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"
#include "storage/path.h"

namespace ferry::auth {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

constexpr size_t kMaxGroupNameBytes = 64;
// Far beyond any real policy; keeps the parser's int sizes safe.
constexpr size_t kMaxPolicyTextBytes = 64 << 20;

// Quoted, C-escaped and length-capped: safe in a status message or a log line.
std::string Quoted(absl::string_view s) { return storage::PathForMessage(s); }

bool IsGroupName(absl::string_view name) {
  return !name.empty() && name.size() <= kMaxGroupNameBytes &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

// One step of a path to a field: the field and, for a repeated field, the index of
// the element (-1 for a singular field).
struct FieldStep {
  const FieldDescriptor* field;
  int index;
};
using FieldSteps = std::initializer_list<FieldStep>;

std::string FieldName(FieldSteps steps) {
  std::string name;
  for (const FieldStep& step : steps) {
    if (!name.empty()) name += '.';
    absl::StrAppend(&name, step.field->name());
    if (step.index >= 0) absl::StrAppend(&name, "[", step.index, "]");
  }
  return name;
}

const FieldDescriptor* FieldOf(const google::protobuf::Descriptor* message, int number) {
  return message->FindFieldByNumber(number);
}

// The descriptors validation names, looked up once.
struct PolicyFields {
  const FieldDescriptor* groups = FieldOf(v1::Policy::descriptor(), v1::Policy::kGroupsFieldNumber);
  const FieldDescriptor* grants = FieldOf(v1::Policy::descriptor(), v1::Policy::kGrantsFieldNumber);
  const FieldDescriptor* admin_principals =
      FieldOf(v1::Policy::descriptor(), v1::Policy::kAdminPrincipalsFieldNumber);
  const FieldDescriptor* admin_groups =
      FieldOf(v1::Policy::descriptor(), v1::Policy::kAdminGroupsFieldNumber);
  const FieldDescriptor* group_name =
      FieldOf(v1::PolicyGroup::descriptor(), v1::PolicyGroup::kNameFieldNumber);
  const FieldDescriptor* group_members =
      FieldOf(v1::PolicyGroup::descriptor(), v1::PolicyGroup::kMembersFieldNumber);
  const FieldDescriptor* grant_principals =
      FieldOf(v1::PolicyGrant::descriptor(), v1::PolicyGrant::kPrincipalsFieldNumber);
  const FieldDescriptor* grant_groups =
      FieldOf(v1::PolicyGrant::descriptor(), v1::PolicyGrant::kGroupsFieldNumber);
  const FieldDescriptor* grant_cluster =
      FieldOf(v1::PolicyGrant::descriptor(), v1::PolicyGrant::kClusterFieldNumber);
  const FieldDescriptor* grant_path_prefix =
      FieldOf(v1::PolicyGrant::descriptor(), v1::PolicyGrant::kPathPrefixFieldNumber);
  const FieldDescriptor* grant_permissions =
      FieldOf(v1::PolicyGrant::descriptor(), v1::PolicyGrant::kPermissionsFieldNumber);
};

const PolicyFields& Fields() {
  static const PolicyFields* const fields = new PolicyFields();
  return *fields;
}

// Checks the semantic rules; errors name the field and, when the policy was parsed
// from text, the line and column where that field (or its nearest parent) was
// written.
class PolicyValidator {
 public:
  PolicyValidator(const v1::Policy& policy, const TextFormat::ParseInfoTree* tree,
                  absl::string_view source_name)
      : policy_(policy), tree_(tree), source_name_(source_name) {}

  absl::Status Run() {
    if (absl::Status s = CheckGroups(); !s.ok()) return s;
    for (int i = 0; i < policy_.grants_size(); ++i) {
      if (absl::Status s = CheckGrant(i); !s.ok()) return s;
    }
    const PolicyFields& f = Fields();
    for (int i = 0; i < policy_.admin_principals_size(); ++i) {
      if (absl::Status s = CheckPrincipal({{f.admin_principals, i}},
                                          policy_.admin_principals(i));
          !s.ok()) {
        return s;
      }
    }
    for (int i = 0; i < policy_.admin_groups_size(); ++i) {
      if (absl::Status s = CheckGroupReference({{f.admin_groups, i}},
                                               policy_.admin_groups(i));
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CheckGroups() {
    const PolicyFields& f = Fields();
    for (int i = 0; i < policy_.groups_size(); ++i) {
      const v1::PolicyGroup& group = policy_.groups(i);
      if (!IsGroupName(group.name())) {
        return Invalid({{f.groups, i}, {f.group_name, -1}},
                       absl::StrCat("group name ", Quoted(group.name()),
                                    " must be 1-64 characters of [A-Za-z0-9._-]"));
      }
      if (!group_names_.insert(group.name()).second) {
        return Invalid({{f.groups, i}, {f.group_name, -1}},
                       absl::StrCat("group ", Quoted(group.name()), " is defined twice"));
      }
      for (int j = 0; j < group.members_size(); ++j) {
        if (absl::Status s = CheckPrincipal({{f.groups, i}, {f.group_members, j}},
                                            group.members(j));
            !s.ok()) {
          return s;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckGrant(int i) {
    const PolicyFields& f = Fields();
    const v1::PolicyGrant& grant = policy_.grants(i);
    if (grant.principals().empty() && grant.groups().empty()) {
      return Invalid({{f.grants, i}}, "names no principal and no group");
    }
    for (int j = 0; j < grant.principals_size(); ++j) {
      if (absl::Status s = CheckPrincipal({{f.grants, i}, {f.grant_principals, j}},
                                          grant.principals(j));
          !s.ok()) {
        return s;
      }
    }
    for (int j = 0; j < grant.groups_size(); ++j) {
      if (absl::Status s =
              CheckGroupReference({{f.grants, i}, {f.grant_groups, j}}, grant.groups(j));
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = Locate({{f.grants, i}, {f.grant_cluster, -1}},
                                ValidateClusterName(grant.cluster(),
                                                    FieldName({{f.grants, i},
                                                               {f.grant_cluster, -1}})));
        !s.ok()) {
      return s;
    }
    if (absl::Status s = Locate({{f.grants, i}, {f.grant_path_prefix, -1}},
                                ValidateAbsolutePath(grant.path_prefix(),
                                                     FieldName({{f.grants, i},
                                                                {f.grant_path_prefix, -1}})));
        !s.ok()) {
      return s;
    }
    if (grant.permissions().empty()) {
      return Invalid({{f.grants, i}}, "grants no permission (READ and/or WRITE)");
    }
    for (int j = 0; j < grant.permissions_size(); ++j) {
      const int permission = grant.permissions(j);
      if (permission != v1::PERMISSION_READ && permission != v1::PERMISSION_WRITE) {
        return Invalid({{f.grants, i}, {f.grant_permissions, j}},
                       "must be PERMISSION_READ or PERMISSION_WRITE");
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckPrincipal(FieldSteps steps, absl::string_view principal) {
    return Locate(steps, ValidatePrincipal(principal, FieldName(steps)));
  }

  absl::Status CheckGroupReference(FieldSteps steps, absl::string_view group) {
    if (group_names_.contains(group)) return absl::OkStatus();
    return Invalid(steps, absl::StrCat("unknown group ", Quoted(group)));
  }

  absl::Status Invalid(FieldSteps steps, absl::string_view problem) const {
    return Locate(steps,
                  absl::InvalidArgumentError(absl::StrCat(FieldName(steps), ": ", problem)));
  }

  // Prefixes `status` (already naming the field) with "<source>:<line>:<column>: ".
  absl::Status Locate(FieldSteps steps, absl::Status status) const {
    if (status.ok() || tree_ == nullptr) return status;
    TextFormat::ParseLocation where;
    const TextFormat::ParseInfoTree* tree = tree_;
    for (const FieldStep& step : steps) {
      if (tree == nullptr) break;
      const TextFormat::ParseLocation here = tree->GetLocation(step.field, step.index);
      if (here.line < 0) break;
      where = here;
      tree = step.field->type() == FieldDescriptor::TYPE_MESSAGE
                 ? tree->GetTreeForNested(step.field, step.index)
                 : nullptr;
    }
    if (where.line < 0) {
      return absl::InvalidArgumentError(absl::StrCat(source_name_, ": ", status.message()));
    }
    return absl::InvalidArgumentError(absl::StrCat(source_name_, ":", where.line + 1, ":",
                                                   where.column + 1, ": ",
                                                   status.message()));
  }

  const v1::Policy& policy_;
  const TextFormat::ParseInfoTree* const tree_;  // Null when not parsed from text.
  const absl::string_view source_name_;
  absl::flat_hash_set<absl::string_view> group_names_;
};

// Keeps the first syntax error with its (1-based) line and column.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// Components of a valid absolute path: "/" has 0, "/a/b" has 2.
size_t ComponentCount(absl::string_view path) {
  return path == "/" ? 0 : std::count(path.begin(), path.end(), '/');
}

}  // namespace

absl::string_view PermissionName(v1::Permission permission) {
  switch (permission) {
    case v1::PERMISSION_READ:
      return "READ";
    case v1::PERMISSION_WRITE:
      return "WRITE";
    default:
      return "UNSPECIFIED";
  }
}

absl::Status ValidatePrincipal(absl::string_view principal, absl::string_view field) {
  absl::StatusOr<Principal> parsed = ParsePrincipal(principal);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", parsed.status().message()));
}

absl::Status ValidatePolicy(const v1::Policy& policy) {
  return PolicyValidator(policy, nullptr, "").Run();
}

absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text,
                                           absl::string_view source_name) {
  if (text.size() > kMaxPolicyTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": policy larger than ", kMaxPolicyTextBytes, " bytes"));
  }
  v1::Policy policy;
  TextFormat::ParseInfoTree tree;
  FirstErrorCollector errors;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (!parser.Parse(&input, &policy)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ":", errors.error().empty() ? " does not parse" : errors.error()));
  }
  if (absl::Status s = PolicyValidator(policy, &tree, source_name).Run(); !s.ok()) return s;
  return policy;
}

absl::StatusOr<std::shared_ptr<const Authorizer>> Authorizer::Compile(
    const v1::Policy& policy) {
  if (absl::Status s = ValidatePolicy(policy); !s.ok()) return s;
  std::shared_ptr<Authorizer> authorizer(new Authorizer());
  for (const v1::PolicyGroup& group : policy.groups()) {
    for (const std::string& member : group.members()) {
      authorizer->groups_of_principal_[member].push_back(group.name());
    }
  }
  for (auto& [principal, groups] : authorizer->groups_of_principal_) {
    std::sort(groups.begin(), groups.end());
    groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  }
  for (const v1::PolicyGrant& grant : policy.grants()) authorizer->AddGrant(grant);
  authorizer->admins_.insert(policy.admin_principals().begin(),
                             policy.admin_principals().end());
  const absl::flat_hash_set<std::string> admin_groups(policy.admin_groups().begin(),
                                                      policy.admin_groups().end());
  for (const v1::PolicyGroup& group : policy.groups()) {
    if (admin_groups.contains(group.name())) {
      authorizer->admins_.insert(group.members().begin(), group.members().end());
    }
  }
  return std::shared_ptr<const Authorizer>(std::move(authorizer));
}

absl::StatusOr<std::shared_ptr<const Authorizer>> Authorizer::FromText(
    absl::string_view text, absl::string_view source_name) {
  absl::StatusOr<v1::Policy> policy = ParsePolicyText(text, source_name);
  if (!policy.ok()) return policy.status();
  return Compile(*policy);
}

void Authorizer::AddGrant(const v1::PolicyGrant& grant) {
  uint32_t bits = 0;
  for (int permission : grant.permissions()) bits |= 1u << permission;
  ClusterGrants& cluster = by_cluster_[grant.cluster()];
  cluster.deepest_prefix =
      std::max(cluster.deepest_prefix, ComponentCount(grant.path_prefix()));
  SubjectBits& subjects = cluster.by_prefix[grant.path_prefix()];
  for (const std::string& principal : grant.principals()) subjects.principals[principal] |= bits;
  for (const std::string& group : grant.groups()) subjects.groups[group] |= bits;
  ++grant_count_;
}

absl::Status Authorizer::Check(absl::string_view principal, v1::Permission permission,
                               absl::string_view cluster, absl::string_view path) const {
  if (permission != v1::PERMISSION_READ && permission != v1::PERMISSION_WRITE) {
    return absl::InvalidArgumentError("permission to check must be READ or WRITE");
  }
  if (absl::Status s = ValidateAbsolutePath(path, "path"); !s.ok()) return s;
  if (Granted(principal, 1u << permission, cluster, path)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      Quoted(principal), " may not ", PermissionName(permission), " ", Quoted(path),
      " on cluster ", Quoted(cluster)));
}

bool Authorizer::Granted(absl::string_view principal, uint32_t wanted,
                         absl::string_view cluster, absl::string_view path) const {
  const auto cluster_it = by_cluster_.find(cluster);
  if (cluster_it == by_cluster_.end()) return false;
  const ClusterGrants& grants = cluster_it->second;
  const auto groups_it = groups_of_principal_.find(principal);
  const std::vector<std::string>* groups =
      groups_it == groups_of_principal_.end() ? nullptr : &groups_it->second;
  const auto granted_at = [&](absl::string_view prefix) {
    const auto it = grants.by_prefix.find(prefix);
    return it != grants.by_prefix.end() &&
           (BitsFor(it->second, principal, groups) & wanted) != 0;
  };
  if (granted_at("/")) return true;
  if (path.size() == 1) return false;  // "/" itself.
  // Each whole-component prefix "/a", "/a/b", ..., no deeper than any granted prefix.
  size_t depth = 0;
  for (size_t end = 2; end <= path.size() && depth < grants.deepest_prefix; ++end) {
    if (end < path.size() && path[end] != '/') continue;
    ++depth;
    if (granted_at(path.substr(0, end))) return true;
  }
  return false;
}

uint32_t Authorizer::BitsFor(const SubjectBits& subjects, absl::string_view principal,
                             const std::vector<std::string>* groups) {
  uint32_t bits = 0;
  if (const auto it = subjects.principals.find(principal); it != subjects.principals.end()) {
    bits |= it->second;
  }
  if (groups == nullptr || subjects.groups.empty()) return bits;
  for (const std::string& group : *groups) {
    if (const auto it = subjects.groups.find(group); it != subjects.groups.end()) {
      bits |= it->second;
    }
  }
  return bits;
}

bool Authorizer::IsAdmin(absl::string_view principal) const {
  return admins_.contains(principal);
}

}  // namespace ferry::auth
