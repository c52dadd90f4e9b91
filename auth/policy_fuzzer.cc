// libFuzzer target for the policy parser and the Authorizer. Arbitrary bytes are parsed
// as a policy textproto; then, for a policy that parses, checks built from its own
// principals, clusters and prefixes (and near misses: siblings such as "/data/ab" for
// "/data/a", parents, other clusters) are compared with an independent,
// obviously-correct linear scan. It aborts (a finding) when:
//  - a parse error is not INVALID_ARGUMENT starting with the source name, or text
//    validation and ValidatePolicy on the parsed message disagree, or Compile fails
//    on a policy ParsePolicyText accepted;
//  - Check answers differently from the oracle for a well-formed path, or answers
//    anything but INVALID_ARGUMENT for a path that is not absolute and normalized;
//  - a spelling of a path with `.`, `..`, `//`, a trailing '/' or NUL is ever allowed
//    (denied or allowed, the canonical path must stay the only one that can match);
//  - IsAdmin disagrees with the oracle.
//
// Built as a libFuzzer binary under --config=fuzz (//auth:policy_fuzzer); otherwise
// //auth:policy_fuzzer_test replays auth/testdata/policy_corpus through this entry point
// (driver: storage/path_fuzzer_replay_main.cc).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "auth/policy.h"
#include "proto/policy.pb.h"

namespace ferry::auth {
namespace {

constexpr size_t kMaxProbePrincipals = 4;
constexpr size_t kMaxProbeClusters = 3;
constexpr size_t kMaxProbeGrants = 8;

void Require(bool ok, const char* what) {
  if (ok) return;
  fprintf(stderr, "policy_fuzzer invariant violated: %s\n", what);
  abort();
}

// Whether `path` is absolute and normalized, written independently of location.cc.
bool OracleCanonical(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.size() > 4095) return false;
  if (path.find('\0') != std::string::npos) return false;
  if (path == "/") return true;
  const std::vector<std::string> parts = absl::StrSplit(path.substr(1), '/');
  for (const std::string& part : parts) {
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
  }
  return true;
}

std::vector<std::string> Components(const std::string& path) {
  if (path == "/") return {};
  return absl::StrSplit(path.substr(1), '/');
}

bool OracleUnder(const std::string& prefix, const std::string& path) {
  const std::vector<std::string> p = Components(prefix);
  const std::vector<std::string> q = Components(path);
  if (p.size() > q.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

bool InGroup(const v1::Policy& policy, const std::string& group,
             const std::string& principal) {
  for (const v1::PolicyGroup& g : policy.groups()) {
    if (g.name() != group) continue;
    for (const std::string& member : g.members()) {
      if (member == principal) return true;
    }
  }
  return false;
}

bool OracleNamed(const v1::Policy& policy, const v1::PolicyGrant& grant,
                 const std::string& principal) {
  for (const std::string& p : grant.principals()) {
    if (p == principal) return true;
  }
  for (const std::string& group : grant.groups()) {
    if (InGroup(policy, group, principal)) return true;
  }
  return false;
}

bool OracleAllows(const v1::Policy& policy, const std::string& principal,
                  v1::Permission permission, const std::string& cluster,
                  const std::string& path) {
  for (const v1::PolicyGrant& grant : policy.grants()) {
    if (grant.cluster() != cluster || !OracleUnder(grant.path_prefix(), path)) continue;
    bool has_permission = false;
    for (int p : grant.permissions()) has_permission |= p == permission;
    if (has_permission && OracleNamed(policy, grant, principal)) return true;
  }
  return false;
}

bool OracleAdmin(const v1::Policy& policy, const std::string& principal) {
  for (const std::string& p : policy.admin_principals()) {
    if (p == principal) return true;
  }
  for (const std::string& group : policy.admin_groups()) {
    if (InGroup(policy, group, principal)) return true;
  }
  return false;
}

// Spellings of `path` that must never be allowed.
std::vector<std::string> BadSpellings(const std::string& path) {
  std::vector<std::string> bad = {path + "/", path + "/.", path + "/..", path + "//x",
                                  path + "/./x", path + "/../" + "x",
                                  path + std::string(1, '\0'), "/." + path, "/" + path};
  if (path.size() > 1) bad.push_back(path.substr(1));  // Relative.
  return bad;
}

struct Probes {
  std::vector<std::string> principals;
  std::vector<std::string> clusters;
  std::vector<std::string> paths;
};

void AddUnique(std::vector<std::string>* list, const std::string& value, size_t cap) {
  if (list->size() >= cap) return;
  for (const std::string& v : *list) {
    if (v == value) return;
  }
  list->push_back(value);
}

Probes ProbesFor(const v1::Policy& policy) {
  Probes probes;
  for (const v1::PolicyGrant& grant : policy.grants()) {
    for (const std::string& p : grant.principals()) {
      AddUnique(&probes.principals, p, kMaxProbePrincipals - 1);
    }
    AddUnique(&probes.clusters, grant.cluster(), kMaxProbeClusters - 1);
  }
  for (const v1::PolicyGroup& group : policy.groups()) {
    for (const std::string& member : group.members()) {
      AddUnique(&probes.principals, member, kMaxProbePrincipals - 1);
    }
  }
  probes.principals.push_back("ferry://user/nobody");
  probes.clusters.push_back("zz");
  probes.paths = {"/"};
  for (int i = 0; i < policy.grants_size() && i < static_cast<int>(kMaxProbeGrants); ++i) {
    const std::string& prefix = policy.grants(i).path_prefix();
    probes.paths.push_back(prefix);
    probes.paths.push_back(prefix == "/" ? "/x" : prefix + "/x");
    if (prefix != "/") {
      probes.paths.push_back(prefix + "x");  // Sibling sharing the bytes.
      probes.paths.push_back(prefix.substr(0, prefix.rfind('/')).empty()
                                 ? "/"
                                 : prefix.substr(0, prefix.rfind('/')));
    }
  }
  return probes;
}

void CheckAgainstOracle(const v1::Policy& policy, const Authorizer& authorizer) {
  const Probes probes = ProbesFor(policy);
  for (const std::string& principal : probes.principals) {
    Require(authorizer.IsAdmin(principal) == OracleAdmin(policy, principal), "IsAdmin");
    for (const std::string& cluster : probes.clusters) {
      for (v1::Permission permission : {v1::PERMISSION_READ, v1::PERMISSION_WRITE}) {
        for (const std::string& path : probes.paths) {
          const absl::Status status = authorizer.Check(principal, permission, cluster, path);
          if (!OracleCanonical(path)) {
            Require(status.code() == absl::StatusCode::kInvalidArgument,
                    "a non-canonical path was not INVALID_ARGUMENT");
            continue;
          }
          Require(status.ok() || status.code() == absl::StatusCode::kPermissionDenied,
                  "Check of a canonical path neither allowed nor denied");
          Require(status.ok() == OracleAllows(policy, principal, permission, cluster, path),
                  "Check disagrees with the oracle");
          for (const std::string& bad : BadSpellings(path)) {
            Require(!authorizer.Check(principal, permission, cluster, bad).ok(),
                    "a non-canonical spelling was allowed");
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ferry::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::auth;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ferry::v1::Policy> policy = ParsePolicyText(text, "fuzz");
  if (!policy.ok()) {
    Require(policy.status().code() == absl::StatusCode::kInvalidArgument,
            "parse error is not INVALID_ARGUMENT");
    Require(absl::StartsWith(policy.status().message(), "fuzz:"),
            "parse error does not start with the source name");
    return 0;
  }
  Require(ValidatePolicy(*policy).ok(), "text and message validation disagree");
  absl::StatusOr<std::shared_ptr<const Authorizer>> authorizer = Authorizer::Compile(*policy);
  Require(authorizer.ok(), "Compile refused a parsed policy");
  Require((*authorizer)->grant_count() == static_cast<size_t>(policy->grants_size()),
          "grant count");
  CheckAgainstOracle(*policy, **authorizer);
  return 0;
}
