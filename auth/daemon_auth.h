// DaemonAuth: the policy and capability keys of a daemon (controller, copyd), from the
// flags every daemon shares:
//   --policy=FILE           the cluster's policy (auth/policy.h textproto), reloaded on
//                           SIGHUP
//   --capability_keys=FILE  the shared capability keys (auth/key_ring.h), 0600,
//                           reloaded on SIGHUP
// Both are required, except under --insecure_plaintext_unsafe (auth/credentials_flags.h),
// where each may be left out: without --policy no grant is checked (every caller is
// ferry://anonymous then anyway), without --capability_keys a controller signs no
// capabilities and a copyd's DataService asks for none. Given files are always
// enforced, in unsafe mode too.
//
// Ordering rule (auth/policy_store.h): call DaemonAuthFromFlags in main right after
// InitDaemon, BEFORE creating credentials, servers or any other thread: it starts the
// SighupReloader, which must see every later thread inherit SIGHUP blocked.
//
// Errors name the flag: FAILED_PRECONDITION for a missing required flag, otherwise the
// status of PolicyStore::Open / KeyRing::Open prefixed with the flag.
//
// Ownership: the returned object owns the store, the ring and the reloader; destroy it
// after the servers that use them (the reloader stops first, as the last member).
// Thread safety: construct and destroy on the main thread; the members are thread-safe.
#ifndef FERRY_AUTH_DAEMON_AUTH_H_
#define FERRY_AUTH_DAEMON_AUTH_H_

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "auth/key_ring.h"
#include "auth/policy_store.h"

ABSL_DECLARE_FLAG(std::string, policy);
ABSL_DECLARE_FLAG(std::string, capability_keys);

namespace ferry::auth {

struct DaemonAuth {
  std::unique_ptr<PolicyStore> policy;  // Null only in unsafe mode without --policy.
  std::unique_ptr<KeyRing> keys;        // Null only in unsafe mode without the flag.
  // Reloads both on SIGHUP; declared last so it stops before they are destroyed.
  std::unique_ptr<SighupReloader> reloader;
};

// Opens the files named by the two flags (see above).
absl::StatusOr<DaemonAuth> DaemonAuthFromFlags();

// The same from explicit values (tests).
absl::StatusOr<DaemonAuth> OpenDaemonAuth(const std::string& policy_path,
                                          const std::string& keys_path, bool unsafe_mode);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_DAEMON_AUTH_H_
