// Audit log: one line per authorization decision (a policy check at CreateTransfer or
// before a commit, an admin verb, a capability check on DataService), saying who
// asked, what, where, and whether it was allowed and why not.
//
// Line format (single line, fields in this order, `transfer` only when set):
//   principal="ferry://user/alice" verb="CreateTransfer" permission="READ"
//   cluster="a" path="/data/x" transfer="t-42" decision=DENIED
//   code=PERMISSION_DENIED reason="..."
// Allowed decisions end with `decision=ALLOWED`. Every value is C-escaped with
// absl::CHexEscape (quotes, backslashes, newlines and non-printable bytes become
// escapes), so a hostile path or principal can neither break the line nor forge a
// field or another line. An event has no field for keys, MACs or capability bytes;
// reasons come from auth/ statuses, which never hold secrets.
//
// Lines go to an injected AuditSink; GlogAuditSink (the production default) writes
// each at INFO with the prefix "AUDIT " so they can be grepped out of the daemon log.
// Tests use their own sink to assert lines.
//
// Thread safety: AuditSink implementations must accept concurrent Write calls
// (GlogAuditSink does). The functions are otherwise pure.
#ifndef FERRY_AUTH_AUDIT_H_
#define FERRY_AUTH_AUDIT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "auth/policy.h"
#include "proto/policy.pb.h"

namespace ferry::auth {

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // One complete line without a trailing newline.
  virtual void Write(absl::string_view line) = 0;
};

// LOG(INFO) << "AUDIT " << line.
class GlogAuditSink : public AuditSink {
 public:
  void Write(absl::string_view line) override;
};

// One decision. Views must stay valid for the call that takes the event.
struct AuditEvent {
  absl::string_view principal;    // Who: the authenticated principal (or claims.user).
  absl::string_view verb;         // What: the RPC or step, e.g. "CreateTransfer".
  absl::string_view permission;   // "READ", "WRITE", "ADMIN", "LIST"... or "".
  absl::string_view cluster;      // Where.
  absl::string_view path;         // Where; "" for verbs without a path.
  absl::string_view transfer_id;  // "" when there is none.
  absl::Status decision;          // OK = allowed; otherwise code and message = reason.
};

std::string FormatAuditLine(const AuditEvent& event);

// sink->Write(FormatAuditLine(event)).
void RecordDecision(AuditSink* sink, const AuditEvent& event);

// authorizer.Check(principal, permission, cluster, path), with one audit line for the
// decision; returns Check's status.
absl::Status CheckAndAudit(const Authorizer& authorizer, AuditSink* sink,
                           absl::string_view verb, absl::string_view principal,
                           v1::Permission permission, absl::string_view cluster,
                           absl::string_view path, absl::string_view transfer_id);

// authorizer.IsAdmin(principal) for `verb`, with one audit line (permission "ADMIN");
// PERMISSION_DENIED naming the principal and the verb if it is not an admin.
absl::Status CheckAdminAndAudit(const Authorizer& authorizer, AuditSink* sink,
                                absl::string_view verb, absl::string_view principal);

}  // namespace ferry::auth

#endif  // FERRY_AUTH_AUDIT_H_
