// CapabilityCheckedDataService: a copyd's DataService behind the capability and policy
// checks of issue 7. Every request must carry a capability (auth/capability.h) that
//   1. verifies under this copyd's key ring, has not expired and names this cluster as
//      its audience (else UNAUTHENTICATED),
//   2. covers the request: ReadChunk needs READ of exactly the path with the whole
//      requested range inside the signed one (ReadFiles: each file's own capability,
//      for the whole file); Stat needs READ of the path or LIST at
//      or above it; List needs LIST at or above the path (else PERMISSION_DENIED;
//      INVALID_ARGUMENT for a path that is not absolute and normalized), and
//   3. names a user to whom this cluster's own policy grants READ on the path (defence
//      in depth: a controller of another cluster, even compromised, can only hand out
//      what this cluster lets that user read; else PERMISSION_DENIED).
// Only then is the request forwarded to `inner` (copyd/data_service.h), so a refused
// request opens, stats or lists nothing. Each decision writes one audit line
// (auth/audit.h) naming claims.user (or the transfer-less "-" when the capability did
// not verify), the verb, the path and the outcome; never the capability's bytes.
//
// The check costs one HMAC-SHA256 over ~150 bytes, one parse and one policy lookup per
// request (per file read, not per block).
//
// copyd wraps it inside common/peer_checked_data_service.h, whose peer-role check runs
// first. Ownership: borrows everything; all must outlive the service. Thread safety:
// gRPC calls it from many threads; KeyRing, PolicyStore, Clock and AuditSink are
// thread-safe.
#ifndef FERRY_COPYD_CAPABILITY_CHECKED_DATA_SERVICE_H_
#define FERRY_COPYD_CAPABILITY_CHECKED_DATA_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "auth/audit.h"
#include "auth/key_ring.h"
#include "auth/policy_store.h"
#include "common/clock.h"
#include "proto/data_service.grpc.pb.h"

namespace ferry::copyd {

// The checks above, without gRPC: what the service runs before forwarding.
class DataRequestAuthorizer {
 public:
  // `cluster` is this copyd's cluster: the audience capabilities must name, and the
  // cluster its policy is checked on. `policy` may be null (--insecure_plaintext_unsafe
  // without --policy): then step 3 is skipped.
  DataRequestAuthorizer(const auth::KeyRing* keys, const auth::PolicyStore* policy,
                        auth::AuditSink* audit, const Clock* clock, std::string cluster);

  absl::Status CheckReadChunk(const v1::ReadChunkRequest& request) const;
  // Each file as a ReadChunk of the whole file: [0, expected_size) when the planned
  // stat is given (the server refuses a file of another size), else to end of file.
  // The first refusal refuses the whole request.
  absl::Status CheckReadFiles(const v1::ReadFilesRequest& request) const;
  absl::Status CheckStat(const v1::StatRequest& request) const;
  absl::Status CheckList(const v1::ListRequest& request) const;

 private:
  enum class Verb { kReadChunk, kStat, kList };
  // Verifies `capability`, applies `verb`'s claims check, then the local policy, with
  // one audit line for the outcome.
  absl::Status Check(Verb verb, const v1::Capability& capability, absl::string_view path,
                     uint64_t offset, uint64_t length) const;

  const auth::KeyRing* const keys_;
  const auth::PolicyStore* const policy_;
  auth::AuditSink* const audit_;
  const Clock* const clock_;
  const std::string cluster_;
};

class CapabilityCheckedDataService final : public v1::DataService::CallbackService {
 public:
  CapabilityCheckedDataService(const DataRequestAuthorizer* authorizer,
                               v1::DataService::CallbackService* inner)
      : authorizer_(authorizer), inner_(inner) {}

  grpc::ServerWriteReactor<v1::DataBlock>* ReadChunk(grpc::CallbackServerContext* context,
                                                     const v1::ReadChunkRequest* request) override;
  grpc::ServerWriteReactor<v1::DataBlock>* ReadFiles(grpc::CallbackServerContext* context,
                                                     const v1::ReadFilesRequest* request) override;
  grpc::ServerUnaryReactor* Stat(grpc::CallbackServerContext* context,
                                 const v1::StatRequest* request, v1::FileInfo* response) override;
  grpc::ServerWriteReactor<v1::ListResponse>* List(grpc::CallbackServerContext* context,
                                                   const v1::ListRequest* request) override;

 private:
  const DataRequestAuthorizer* const authorizer_;
  v1::DataService::CallbackService* const inner_;
};

}  // namespace ferry::copyd

#endif  // FERRY_COPYD_CAPABILITY_CHECKED_DATA_SERVICE_H_
