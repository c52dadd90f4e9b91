#include "auth/daemon_auth.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "auth/credentials_flags.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, policy, "",
          "Policy file (ferry.v1.Policy textproto), reloaded on SIGHUP. Required unless "
          "--insecure_plaintext_unsafe.");
ABSL_FLAG(std::string, capability_keys, "",
          "Capability key file ('<id> <hex secret> [signing]' lines, mode 0600), "
          "reloaded on SIGHUP. Required unless --insecure_plaintext_unsafe.");

namespace ferry::auth {
namespace {

absl::Status Prefixed(absl::string_view flag, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("--", flag, ": ", status.message()));
}

absl::Status Missing(absl::string_view flag) {
  return absl::FailedPreconditionError(
      absl::StrCat("--", flag, " is required (or --insecure_plaintext_unsafe, which "
                   "turns authentication off)"));
}

}  // namespace

absl::StatusOr<DaemonAuth> OpenDaemonAuth(const std::string& policy_path,
                                          const std::string& keys_path, bool unsafe_mode) {
  DaemonAuth auth;
  if (!policy_path.empty()) {
    absl::StatusOr<std::unique_ptr<PolicyStore>> policy = PolicyStore::Open(policy_path);
    if (!policy.ok()) return Prefixed("policy", policy.status());
    auth.policy = *std::move(policy);
  } else if (!unsafe_mode) {
    return Missing("policy");
  }
  if (!keys_path.empty()) {
    absl::StatusOr<std::unique_ptr<KeyRing>> keys = KeyRing::Open(keys_path);
    if (!keys.ok()) return Prefixed("capability_keys", keys.status());
    auth.keys = *std::move(keys);
  } else if (!unsafe_mode) {
    return Missing("capability_keys");
  }
  if (auth.policy == nullptr) LOG(WARNING) << "no --policy: no grant is checked (unsafe)";
  if (auth.keys == nullptr) {
    LOG(WARNING) << "no --capability_keys: the data path carries no capabilities (unsafe)";
  }
  PolicyStore* policy = auth.policy.get();
  KeyRing* keys = auth.keys.get();
  auth.reloader = std::make_unique<SighupReloader>([policy, keys] {
    // Each keeps its old contents on error and logs it.
    if (policy != nullptr) policy->Reload().IgnoreError();
    if (keys != nullptr) keys->Reload().IgnoreError();
  });
  return auth;
}

absl::StatusOr<DaemonAuth> DaemonAuthFromFlags() {
  return OpenDaemonAuth(absl::GetFlag(FLAGS_policy), absl::GetFlag(FLAGS_capability_keys),
                        absl::GetFlag(FLAGS_insecure_plaintext_unsafe));
}

}  // namespace ferry::auth
