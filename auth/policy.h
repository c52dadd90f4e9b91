// The authorization policy (proto/policy.proto): parsing, validation and the compiled,
// immutable Authorizer that answers "may this principal READ/WRITE this path of this
// cluster?" and "is this principal an admin?".
//
// Parsing: a textproto of ferry.v1.Policy through protobuf's TextFormat::Parser.
// Syntax errors and semantic errors both come back as INVALID_ARGUMENT naming the
// source, line and column, and for semantic errors the field, e.g.
//   policy.textproto:12:3: grants[3].path_prefix: path may not contain '.' or '..'
// Semantic rules: principals are what auth/principal.h's ParsePrincipal accepts
// (`ferry://user/<name>`, `ferry://cluster/<cluster>/<controller|copyd|bwbroker>`, and
// `ferry://anonymous`, which only plaintext peers under --insecure_plaintext_unsafe
// have: granting it grants every such caller); group names are 1-64 characters of
// [A-Za-z0-9._-] and unique; a grant names at least one principal or
// group, only defined groups, a valid cluster, an absolute normalized path prefix
// (common/location.h, ValidateAbsolutePath) and at least one known permission.
//
// Checking: deny by default. A path is never normalized lexically: a path with `.`,
// `..` or empty components, a trailing '/', or NUL is INVALID_ARGUMENT before any
// prefix is looked at, so no spelling of a path can reach a grant another spelling
// does not. A prefix grants itself and everything under it on whole components
// ("/data/a" grants "/data/a" and "/data/a/x", not "/data/ab"; "/" grants the whole
// cluster). Grants are indexed by cluster and prefix: a check costs one hash lookup
// per path component up to the deepest prefix granted on that cluster, times the
// principal's group count, whatever the number of grants.
//
// Messages never hold anything secret: PERMISSION_DENIED names the principal, the
// permission, the cluster and the (escaped, length-capped) path.
//
// Thread safety: an Authorizer is immutable; share it freely (PolicyStore swaps whole
// Authorizers on reload). The free functions are pure.
#ifndef FERRY_AUTH_POLICY_H_
#define FERRY_AUTH_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/policy.pb.h"

namespace ferry::auth {

// "READ", "WRITE", or "UNSPECIFIED" for anything else.
absl::string_view PermissionName(v1::Permission permission);

// OK if auth/principal.h's ParsePrincipal accepts `principal`; INVALID_ARGUMENT
// naming `field` otherwise.
absl::Status ValidatePrincipal(absl::string_view principal, absl::string_view field);

// Checks the semantic rules above. INVALID_ARGUMENT naming the first bad field
// (without a line: use ParsePolicyText for text with line numbers).
absl::Status ValidatePolicy(const v1::Policy& policy);

// Parses and validates a textproto. `source_name` (e.g. the file path) starts every
// error message. INVALID_ARGUMENT "<source>:<line>:<column>: ..." on any error.
absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text,
                                           absl::string_view source_name);

class Authorizer {
 public:
  // Validates (INVALID_ARGUMENT as ValidatePolicy) and compiles `policy`.
  static absl::StatusOr<std::shared_ptr<const Authorizer>> Compile(
      const v1::Policy& policy);
  // ParsePolicyText, then Compile.
  static absl::StatusOr<std::shared_ptr<const Authorizer>> FromText(
      absl::string_view text, absl::string_view source_name);

  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // OK if some grant gives `principal` (directly or through a group) `permission` on
  // `cluster` at a whole-component prefix of `path`. PERMISSION_DENIED otherwise,
  // naming the principal, permission, cluster and path. INVALID_ARGUMENT for a path
  // that is not absolute and normalized, or a permission other than READ/WRITE.
  absl::Status Check(absl::string_view principal, v1::Permission permission,
                     absl::string_view cluster, absl::string_view path) const;

  // Whether `principal` is listed in admin_principals or is a member of a group in
  // admin_groups.
  bool IsAdmin(absl::string_view principal) const;

  // Number of grants compiled in, for logging a reload.
  size_t grant_count() const { return grant_count_; }

 private:
  // Permission bits (1 << v1::Permission) granted at one prefix, by principal and by
  // group name (apart, so a caller named like a group gets nothing).
  struct SubjectBits {
    absl::flat_hash_map<std::string, uint32_t> principals;
    absl::flat_hash_map<std::string, uint32_t> groups;
  };
  struct ClusterGrants {
    absl::flat_hash_map<std::string, SubjectBits> by_prefix;
    size_t deepest_prefix = 0;  // Most components of any prefix ("/" has 0).
  };

  Authorizer() = default;
  void AddGrant(const v1::PolicyGrant& grant);
  bool Granted(absl::string_view principal, uint32_t wanted, absl::string_view cluster,
               absl::string_view path) const;
  // The bits `subjects` gives the principal and its groups (null: none).
  static uint32_t BitsFor(const SubjectBits& subjects, absl::string_view principal,
                          const std::vector<std::string>* groups);

  absl::flat_hash_map<std::string, ClusterGrants> by_cluster_;
  absl::flat_hash_map<std::string, std::vector<std::string>> groups_of_principal_;
  absl::flat_hash_set<std::string> admins_;
  size_t grant_count_ = 0;
};

}  // namespace ferry::auth

#endif  // FERRY_AUTH_POLICY_H_
