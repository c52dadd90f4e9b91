#include "copyd/capability_checked_data_service.h"

#include <utility>

#include "absl/status/statusor.h"
#include "auth/capability.h"
#include "common/grpc_status.h"
#include "common/peer_role.h"

namespace ferry::copyd {
namespace {

// Who the audit line names when no verified claims say who the request is for.
constexpr absl::string_view kUnverified = "-";

}  // namespace

DataRequestAuthorizer::DataRequestAuthorizer(const auth::KeyRing* keys,
                                             const auth::PolicyStore* policy,
                                             auth::AuditSink* audit, const Clock* clock,
                                             std::string cluster)
    : keys_(keys), policy_(policy), audit_(audit), clock_(clock), cluster_(std::move(cluster)) {}

absl::Status DataRequestAuthorizer::CheckReadChunk(const v1::ReadChunkRequest& request) const {
  return Check(Verb::kReadChunk, request.capability(), request.path(), request.offset(),
               request.length());
}

absl::Status DataRequestAuthorizer::CheckReadFiles(const v1::ReadFilesRequest& request) const {
  for (const v1::FileRead& file : request.files()) {
    const bool planned = file.expected_size() != 0 || file.expected_mtime_ns() != 0;
    if (absl::Status s = Check(Verb::kReadChunk, file.capability(), file.path(), 0,
                               planned ? file.expected_size() : 0);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status DataRequestAuthorizer::CheckStat(const v1::StatRequest& request) const {
  return Check(Verb::kStat, request.capability(), request.path(), 0, 0);
}

absl::Status DataRequestAuthorizer::CheckList(const v1::ListRequest& request) const {
  return Check(Verb::kList, request.capability(), request.path(), 0, 0);
}

absl::Status DataRequestAuthorizer::Check(Verb verb, const v1::Capability& capability,
                                          absl::string_view path, uint64_t offset,
                                          uint64_t length) const {
  const absl::string_view verb_name = verb == Verb::kReadChunk ? "DataService.ReadChunk"
                                      : verb == Verb::kStat    ? "DataService.Stat"
                                                               : "DataService.List";
  const absl::string_view permission = verb == Verb::kList ? "LIST" : "READ";
  absl::StatusOr<v1::CapabilityClaims> claims =
      auth::Verify(*keys_, capability, clock_->Now(), cluster_);
  if (!claims.ok()) {
    auth::RecordDecision(audit_, {kUnverified, verb_name, permission, cluster_, path, "",
                                  claims.status()});
    return claims.status();
  }
  absl::Status covered = verb == Verb::kReadChunk ? auth::CheckRead(*claims, path, offset, length)
                         : verb == Verb::kStat    ? auth::CheckStat(*claims, path)
                                                  : auth::CheckList(*claims, path);
  if (!covered.ok()) {
    auth::RecordDecision(audit_, {claims->user(), verb_name, permission, cluster_, path,
                                  claims->transfer_id(), covered});
    return covered;
  }
  if (policy_ == nullptr) {  // Unsafe mode without --policy: the capability is all.
    auth::RecordDecision(audit_, {claims->user(), verb_name, permission, cluster_, path,
                                  claims->transfer_id(), absl::OkStatus()});
    return absl::OkStatus();
  }
  // Listing needs READ too: the policy has no separate LIST permission.
  return auth::CheckAndAudit(*policy_->Current(), audit_, verb_name, claims->user(),
                             v1::PERMISSION_READ, cluster_, path, claims->transfer_id());
}

grpc::ServerWriteReactor<v1::DataBlock>* CapabilityCheckedDataService::ReadChunk(
    grpc::CallbackServerContext* context, const v1::ReadChunkRequest* request) {
  if (absl::Status status = authorizer_->CheckReadChunk(*request); !status.ok()) {
    return RefuseStream<v1::DataBlock>(status);
  }
  return inner_->ReadChunk(context, request);
}

grpc::ServerWriteReactor<v1::DataBlock>* CapabilityCheckedDataService::ReadFiles(
    grpc::CallbackServerContext* context, const v1::ReadFilesRequest* request) {
  if (absl::Status status = authorizer_->CheckReadFiles(*request); !status.ok()) {
    return RefuseStream<v1::DataBlock>(status);
  }
  return inner_->ReadFiles(context, request);
}

grpc::ServerUnaryReactor* CapabilityCheckedDataService::Stat(
    grpc::CallbackServerContext* context, const v1::StatRequest* request,
    v1::FileInfo* response) {
  if (absl::Status status = authorizer_->CheckStat(*request); !status.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  return inner_->Stat(context, request, response);
}

grpc::ServerWriteReactor<v1::ListResponse>* CapabilityCheckedDataService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request) {
  if (absl::Status status = authorizer_->CheckList(*request); !status.ok()) {
    return RefuseStream<v1::ListResponse>(status);
  }
  return inner_->List(context, request);
}

}  // namespace ferry::copyd
