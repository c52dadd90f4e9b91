#include "auth/audit.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "storage/path.h"

namespace ferry::auth {
namespace {

// ` name="<escaped value>"`.
void AppendField(std::string* line, absl::string_view name, absl::string_view value) {
  absl::StrAppend(line, line->empty() ? "" : " ", name, "=\"", absl::CHexEscape(value), "\"");
}

}  // namespace

void GlogAuditSink::Write(absl::string_view line) { LOG(INFO) << "AUDIT " << line; }

std::string FormatAuditLine(const AuditEvent& event) {
  std::string line;
  AppendField(&line, "principal", event.principal);
  AppendField(&line, "verb", event.verb);
  AppendField(&line, "permission", event.permission);
  AppendField(&line, "cluster", event.cluster);
  AppendField(&line, "path", event.path);
  if (!event.transfer_id.empty()) AppendField(&line, "transfer", event.transfer_id);
  if (event.decision.ok()) {
    absl::StrAppend(&line, " decision=ALLOWED");
    return line;
  }
  absl::StrAppend(&line, " decision=DENIED code=",
                  absl::StatusCodeToString(event.decision.code()));
  AppendField(&line, "reason", event.decision.message());
  return line;
}

void RecordDecision(AuditSink* sink, const AuditEvent& event) {
  sink->Write(FormatAuditLine(event));
}

absl::Status CheckAndAudit(const Authorizer& authorizer, AuditSink* sink,
                           absl::string_view verb, absl::string_view principal,
                           v1::Permission permission, absl::string_view cluster,
                           absl::string_view path, absl::string_view transfer_id) {
  absl::Status decision = authorizer.Check(principal, permission, cluster, path);
  RecordDecision(sink, {principal, verb, PermissionName(permission), cluster, path,
                        transfer_id, decision});
  return decision;
}

absl::Status CheckAdminAndAudit(const Authorizer& authorizer, AuditSink* sink,
                                absl::string_view verb, absl::string_view principal) {
  absl::Status decision =
      authorizer.IsAdmin(principal)
          ? absl::OkStatus()
          : absl::PermissionDeniedError(absl::StrCat(storage::PathForMessage(principal),
                                                     " is not an admin, needed for ",
                                                     verb));
  RecordDecision(sink, {principal, verb, "ADMIN", "", "", "", decision});
  return decision;
}

}  // namespace ferry::auth
