// PolicyStore: the policy in force, loaded from a textproto file and reloaded on demand
// (SIGHUP through SighupReloader below). A reload that fails (unreadable file, syntax
// or validation error) keeps the old policy, logs the error with its line at ERROR and
// returns it; so a typo never opens or closes access by accident.
//
// Readers take Current() (a shared_ptr copy under a short lock) and check against that
// snapshot; a reload parses and compiles outside the lock and swaps the pointer, so
// checks never wait for parsing and a snapshot stays valid while it is used.
//
// Thread safety: all PolicyStore methods may be called concurrently.
#ifndef FERRY_AUTH_POLICY_STORE_H_
#define FERRY_AUTH_POLICY_STORE_H_

#include <pthread.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "auth/policy.h"

namespace ferry::auth {

class PolicyStore {
 public:
  // Loads `path`; the first load must succeed (INVALID_ARGUMENT naming the line for
  // a bad policy, NOT_FOUND / PERMISSION_DENIED / UNAVAILABLE from reading the file).
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(std::string path);

  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  // The policy in force. Never null.
  std::shared_ptr<const Authorizer> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Reads and compiles the file again. On success the new policy is in force (logged
  // at INFO with its grant count); on error the old one stays and the error is logged
  // at ERROR and returned. Concurrent reloads are serialized.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(reload_mu_, mu_);

  const std::string& path() const { return path_; }

 private:
  PolicyStore(std::string path, std::shared_ptr<const Authorizer> initial);

  const std::string path_;
  absl::Mutex reload_mu_;  // Held for a whole reload, so swaps happen in file order.
  mutable absl::Mutex mu_;
  std::shared_ptr<const Authorizer> current_ ABSL_GUARDED_BY(mu_);
};

// Reads a policy file and compiles it: what Open and Reload use.
absl::StatusOr<std::shared_ptr<const Authorizer>> LoadPolicyFile(const std::string& path);

// Runs `reload` on a thread of its own each time the process receives SIGHUP (for a
// daemon: PolicyStore::Reload, and the key ring's Reload).
//
// Ordering rule: construct it in main right after InitDaemon (common/process.h) and
// BEFORE starting gRPC servers, clients or any other thread. The constructor blocks
// SIGHUP in the calling thread, and threads created afterwards inherit that mask, so
// the process-directed SIGHUP stays pending until this object's thread takes it with
// sigwait. A thread created earlier would still have SIGHUP unblocked and the signal's
// default action would kill the process. SIGHUP stays blocked in the constructing
// thread after destruction (unblocking it then would let a late SIGHUP kill us).
//
// Destruction (or Stop) sets a flag and wakes the thread with pthread_kill(SIGHUP), then
// joins it; a reload in progress finishes first. Thread safety: construct and destroy
// from one thread; `reload` runs on the reloader's thread, one call at a time.
class SighupReloader {
 public:
  explicit SighupReloader(std::function<void()> reload);
  ~SighupReloader();

  SighupReloader(const SighupReloader&) = delete;
  SighupReloader& operator=(const SighupReloader&) = delete;

  // Idempotent.
  void Stop();

  // Number of reloads run so far (for tests and logs).
  int reload_count() const { return reload_count_.load(); }

 private:
  void Run();

  const std::function<void()> reload_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> reload_count_{0};
  std::thread thread_;
};

}  // namespace ferry::auth

#endif  // FERRY_AUTH_POLICY_STORE_H_
