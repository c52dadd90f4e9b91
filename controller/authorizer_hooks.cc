#include "controller/authorizer_hooks.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "auth/capability.h"

namespace ferry::controller {
namespace {

constexpr absl::string_view kCommitVerb = "CommitFile";

}  // namespace

TransferPolicy::TransferPolicy(const auth::PolicyStore* policy, auth::AuditSink* audit,
                               std::string cluster)
    : policy_(policy), audit_(audit), cluster_(std::move(cluster)) {}

absl::Status TransferPolicy::CheckCreate(const std::string& user,
                                         const v1::CreateTransferRequest& request) const {
  const std::shared_ptr<const auth::Authorizer> authorizer = policy_->Current();
  if (absl::Status s = auth::CheckAndAudit(
          *authorizer, audit_, "CreateTransfer", user, v1::PERMISSION_READ,
          request.source().cluster(), request.source().path(), "");
      !s.ok()) {
    return s;
  }
  for (const v1::Location& destination : request.destinations()) {
    if (absl::Status s = auth::CheckAndAudit(*authorizer, audit_, "CreateTransfer", user,
                                             v1::PERMISSION_WRITE, destination.cluster(),
                                             destination.path(), "");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status TransferPolicy::CheckList(const std::string& user,
                                       const v1::ListTransfersRequest& request) const {
  if (!request.all_users() && (request.user().empty() || request.user() == user)) {
    return absl::OkStatus();  // One's own transfers.
  }
  return auth::CheckAdminAndAudit(*policy_->Current(), audit_,
                                  request.all_users() ? "ListTransfers(all_users)"
                                                      : "ListTransfers(other user)",
                                  user);
}

absl::Status TransferPolicy::CheckOwnerOrAdmin(const std::string& user,
                                               absl::string_view verb,
                                               const v1::Transfer& transfer) const {
  if (transfer.user() == user) return absl::OkStatus();
  return auth::CheckAdminAndAudit(*policy_->Current(), audit_,
                                  absl::StrCat(verb, " of another user's transfer"), user);
}

absl::Status TransferPolicy::CheckFile(const v1::Transfer& transfer,
                                       const v1::FileTask& file) const {
  const std::shared_ptr<const auth::Authorizer> authorizer = policy_->Current();
  if (absl::Status s = auth::CheckAndAudit(
          *authorizer, audit_, kCommitVerb, transfer.user(), v1::PERMISSION_READ,
          transfer.source().cluster(), file.source_path(), transfer.id());
      !s.ok()) {
    return s;
  }
  return auth::CheckAndAudit(*authorizer, audit_, kCommitVerb, transfer.user(),
                             v1::PERMISSION_WRITE, cluster_, file.destination_path(),
                             transfer.id());
}

CapabilityIssuer::CapabilityIssuer(const auth::KeyRing* keys, const Clock* clock,
                                   std::string cluster, absl::Duration validity)
    : keys_(keys), clock_(clock), cluster_(std::move(cluster)), validity_(validity) {}

v1::CapabilityClaims CapabilityIssuer::BaseClaims(const std::string& transfer_id,
                                                  const std::string& user,
                                                  const std::string& source_cluster) const {
  v1::CapabilityClaims claims;
  claims.set_transfer_id(transfer_id);
  claims.set_user(user);
  claims.set_issuer_cluster(cluster_);
  claims.set_audience_cluster(source_cluster);
  claims.set_expiry_unix_ms(absl::ToUnixMillis(clock_->Now() + validity_));
  return claims;
}

absl::StatusOr<v1::Capability> CapabilityIssuer::ForRead(const v1::Transfer& transfer,
                                                         const std::string& path,
                                                         uint64_t offset,
                                                         uint64_t length) const {
  v1::CapabilityClaims claims =
      BaseClaims(transfer.id(), transfer.user(), transfer.source().cluster());
  claims.set_operation(v1::CAPABILITY_OPERATION_READ);
  claims.set_path(path);
  claims.set_offset(offset);
  claims.set_length(length);
  return auth::Sign(*keys_, claims);
}

absl::StatusOr<v1::Capability> CapabilityIssuer::ForList(
    const std::string& transfer_id, const std::string& user,
    const std::string& source_cluster, const std::string& root) const {
  v1::CapabilityClaims claims = BaseClaims(transfer_id, user, source_cluster);
  claims.set_operation(v1::CAPABILITY_OPERATION_LIST);
  claims.set_path(root);
  return auth::Sign(*keys_, claims);
}

PolicyTaskAuthorizer::PolicyTaskAuthorizer(const TransferPolicy* policy,
                                           const CapabilityIssuer* issuer)
    : policy_(policy), issuer_(issuer) {}

absl::Status PolicyTaskAuthorizer::Authorize(const v1::Transfer& transfer, v1::Task* task) {
  // A cleanup removes this transfer's own temporary files: it must run even (above
  // all) after a revocation.
  if (task->kind() == v1::TASK_KIND_CLEANUP) return absl::OkStatus();
  // Setting directories' attributes reads nothing from the source, so no capability
  // leaves the controller for it; the policy still decides whether it may write them.
  const bool reads_source = task->kind() != v1::TASK_KIND_FINALIZE_DIRS;
  const bool remote = !task->source_data_addresses().empty();
  for (v1::FileTask& file : *task->mutable_files()) {
    if (policy_ != nullptr) {
      if (absl::Status s = policy_->CheckFile(transfer, file); !s.ok()) return s;
    }
    if (!reads_source || !remote || issuer_ == nullptr) continue;
    // A chunk reads its range; whole files and commits read (or stat) the whole file.
    // An empty file is read "to end of file" (length 0), which only an open-ended
    // capability grants.
    const bool chunk = task->kind() == v1::TASK_KIND_COPY_CHUNK;
    const uint64_t offset = chunk ? file.offset() : 0;
    const uint64_t length = chunk ? file.length() : file.source_info().size();
    absl::StatusOr<v1::Capability> capability =
        issuer_->ForRead(transfer, file.source_path(), offset, length);
    if (!capability.ok()) return capability.status();
    *file.mutable_source_capability() = std::move(*capability);
  }
  return absl::OkStatus();
}

ControllerAuthorization::ControllerAuthorization(const auth::DaemonAuth& daemon,
                                                 auth::AuditSink* audit, const Clock* clock,
                                                 const std::string& cluster,
                                                 absl::Duration lease_duration) {
  if (daemon.policy != nullptr) {
    policy = std::make_unique<TransferPolicy>(daemon.policy.get(), audit, cluster);
  }
  if (daemon.keys != nullptr) {
    issuer = std::make_unique<CapabilityIssuer>(
        daemon.keys.get(), clock, cluster,
        std::max(kCapabilityLeases * lease_duration, kMinCapabilityValidity));
  }
  tasks = std::make_unique<PolicyTaskAuthorizer>(policy.get(), issuer.get());
}

}  // namespace ferry::controller
