// The controller's side of issue 7's authorization: policy checks of CopyService
// calls (TransferPolicy), capability signing (CapabilityIssuer) and the per-lease
// re-check plus signing of tasks (PolicyTaskAuthorizer, a TaskAuthorizer).
//
// TransferPolicy, over the PolicyStore in force (a SIGHUP reload takes effect on the
// next check):
//   - CreateTransfer: READ on the source and WRITE on every destination;
//     PERMISSION_DENIED names the first path refused (nothing is persisted: callers
//     check before TransferManager::CreateTransfer).
//   - Admin verbs: ListTransfers of another user or of all users, and GetTransfer,
//     WatchTransfer or CancelTransfer of a transfer the caller did not create, need the
//     admin role.
//   - Before a file's commit: READ of its source and WRITE of its destination, for the
//     transfer's user.
// Every decision writes one audit line (auth/audit.h). Callers pass authenticated
// principals only (auth/principal.h).
//
// CapabilityIssuer signs capabilities (auth/capability.h) with the signing key of a
// KeyRing: READ of one file's byte range for copy tasks, LIST of a source root for
// planning, valid for `validity` from the clock's now (a few lease durations, so a
// lease extended by heartbeats keeps working; a task leased again gets new ones).
//
// Ownership: everything passed by pointer must outlive the object. Thread safety: all
// methods may be called concurrently (PolicyStore, KeyRing and AuditSink are).
#ifndef FERRY_CONTROLLER_AUTHORIZER_HOOKS_H_
#define FERRY_CONTROLLER_AUTHORIZER_HOOKS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/audit.h"
#include "auth/daemon_auth.h"
#include "auth/key_ring.h"
#include "auth/policy_store.h"
#include "common/clock.h"
#include "controller/task_authorizer.h"
#include "proto/capability.pb.h"
#include "proto/copy_service.pb.h"
#include "proto/worker_service.pb.h"

namespace ferry::controller {

class TransferPolicy {
 public:
  // `cluster` is this controller's cluster (where its tasks write).
  TransferPolicy(const auth::PolicyStore* policy, auth::AuditSink* audit,
                 std::string cluster);

  absl::Status CheckCreate(const std::string& user,
                           const v1::CreateTransferRequest& request) const;
  absl::Status CheckList(const std::string& user,
                         const v1::ListTransfersRequest& request) const;
  // GetTransfer, WatchTransfer, CancelTransfer (`verb`) of `transfer`.
  absl::Status CheckOwnerOrAdmin(const std::string& user, absl::string_view verb,
                                 const v1::Transfer& transfer) const;
  // READ of `file.source_path()` on the source cluster and WRITE of
  // `file.destination_path()` on this cluster, for `transfer.user()`.
  absl::Status CheckFile(const v1::Transfer& transfer, const v1::FileTask& file) const;

 private:
  const auth::PolicyStore* const policy_;
  auth::AuditSink* const audit_;
  const std::string cluster_;
};

class CapabilityIssuer {
 public:
  CapabilityIssuer(const auth::KeyRing* keys, const Clock* clock, std::string cluster,
                   absl::Duration validity);

  // READ of `path` in [offset, offset + length) (length 0: to end of file) on
  // `source_cluster`, for `transfer`'s user.
  absl::StatusOr<v1::Capability> ForRead(const v1::Transfer& transfer,
                                         const std::string& path, uint64_t offset,
                                         uint64_t length) const;
  // LIST of `root` and everything under it on `source_cluster`.
  absl::StatusOr<v1::Capability> ForList(const std::string& transfer_id,
                                         const std::string& user,
                                         const std::string& source_cluster,
                                         const std::string& root) const;

 private:
  v1::CapabilityClaims BaseClaims(const std::string& transfer_id, const std::string& user,
                                  const std::string& source_cluster) const;

  const auth::KeyRing* const keys_;
  const Clock* const clock_;
  const std::string cluster_;
  const absl::Duration validity_;
};

// Re-checks every file of a task against the policy and, for a task whose source is
// another cluster (source_data_addresses set), attaches to each file a READ capability
// of exactly its path and range (FileTask.source_capability), except in a
// FINALIZE_DIRS task, which reads nothing. Either may be null
// (--insecure_plaintext_unsafe without --policy: no re-check; without
// --capability_keys: no capabilities).
class PolicyTaskAuthorizer final : public TaskAuthorizer {
 public:
  PolicyTaskAuthorizer(const TransferPolicy* policy, const CapabilityIssuer* issuer);
  absl::Status Authorize(const v1::Transfer& transfer, v1::Task* task) override;

 private:
  const TransferPolicy* const policy_;
  const CapabilityIssuer* const issuer_;
};

// The controller's objects above over its DaemonAuth (auth/daemon_auth.h): a null
// policy or key ring leaves the matching member null. Capabilities are valid for
// kCapabilityLeases lease durations, at least kMinCapabilityValidity.
struct ControllerAuthorization {
  static constexpr int kCapabilityLeases = 4;
  static constexpr absl::Duration kMinCapabilityValidity = absl::Minutes(1);

  ControllerAuthorization(const auth::DaemonAuth& daemon, auth::AuditSink* audit,
                          const Clock* clock, const std::string& cluster,
                          absl::Duration lease_duration);

  std::unique_ptr<TransferPolicy> policy;
  std::unique_ptr<CapabilityIssuer> issuer;
  std::unique_ptr<PolicyTaskAuthorizer> tasks;  // Never null.
};

}  // namespace ferry::controller

#endif  // FERRY_CONTROLLER_AUTHORIZER_HOOKS_H_
