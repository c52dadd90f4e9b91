#include "auth/audit.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class RecordingSink : public AuditSink {
 public:
  void Write(absl::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

TEST(AuditLineTest, AllowedDecision) {
  EXPECT_EQ(FormatAuditLine({"ferry://user/alice", "CreateTransfer", "READ", "a", "/data/x",
                             "t-1", absl::OkStatus()}),
            "principal=\"ferry://user/alice\" verb=\"CreateTransfer\" permission=\"READ\" "
            "cluster=\"a\" path=\"/data/x\" transfer=\"t-1\" decision=ALLOWED");
}

TEST(AuditLineTest, DeniedDecisionCarriesCodeAndReasonAndNoEmptyTransfer) {
  EXPECT_EQ(FormatAuditLine({"ferry://user/bob", "Commit", "WRITE", "b", "/out", "",
                             absl::PermissionDeniedError("no grant")}),
            "principal=\"ferry://user/bob\" verb=\"Commit\" permission=\"WRITE\" "
            "cluster=\"b\" path=\"/out\" decision=DENIED code=PERMISSION_DENIED "
            "reason=\"no grant\"");
}

TEST(AuditLineTest, HostileBytesCannotBreakTheLineOrForgeFields) {
  constexpr char kPath[] = "/x\" decision=ALLOWED\nAUDIT principal=\"root\0\xff";
  const std::string path(kPath, sizeof kPath - 1);
  const std::string line = FormatAuditLine({"ferry://user/m\\", "ReadChunk", "READ", "a", path,
                                            "", absl::PermissionDeniedError("bad\r\nreason")});
  EXPECT_THAT(line, Not(HasSubstr("\n")));
  EXPECT_THAT(line, Not(HasSubstr("\r")));
  EXPECT_THAT(line, HasSubstr("principal=\"ferry://user/m\\\\\""));
  EXPECT_THAT(line, HasSubstr("path=\"/x\\\" decision=ALLOWED\\nAUDIT principal=\\\"root\\x00\\xff\""));
  EXPECT_THAT(line, HasSubstr("reason=\"bad\\r\\nreason\""));
  // The only unescaped decision is the real one.
  EXPECT_THAT(line, HasSubstr("\" decision=DENIED code=PERMISSION_DENIED"));
}

TEST(AuditTest, CheckAndAuditWritesOneLinePerDecision) {
  absl::StatusOr<std::shared_ptr<const Authorizer>> authorizer = Authorizer::FromText(
      "grants { principals: \"ferry://user/alice\" cluster: \"a\" path_prefix: \"/d\" "
      "permissions: PERMISSION_READ } admin_principals: \"ferry://user/root\"",
      "policy");
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  RecordingSink sink;
  EXPECT_TRUE(CheckAndAudit(**authorizer, &sink, "CreateTransfer", "ferry://user/alice",
                            v1::PERMISSION_READ, "a", "/d/f", "t-9")
                  .ok());
  EXPECT_EQ(CheckAndAudit(**authorizer, &sink, "CreateTransfer", "ferry://user/alice",
                          v1::PERMISSION_WRITE, "a", "/d/f", "")
                .code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckAdminAndAudit(**authorizer, &sink, "ListTransfers", "ferry://user/root").ok());
  EXPECT_EQ(CheckAdminAndAudit(**authorizer, &sink, "CancelTransfer", "ferry://user/alice")
                .code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_EQ(sink.lines.size(), 4u);
  EXPECT_THAT(sink.lines[0], HasSubstr("permission=\"READ\" cluster=\"a\" path=\"/d/f\" "
                                       "transfer=\"t-9\" decision=ALLOWED"));
  EXPECT_THAT(sink.lines[1], HasSubstr("permission=\"WRITE\""));
  EXPECT_THAT(sink.lines[1], HasSubstr("decision=DENIED code=PERMISSION_DENIED reason="));
  EXPECT_THAT(sink.lines[2], HasSubstr("verb=\"ListTransfers\" permission=\"ADMIN\""));
  EXPECT_THAT(sink.lines[2], HasSubstr("decision=ALLOWED"));
  EXPECT_THAT(sink.lines[3], HasSubstr("is not an admin, needed for CancelTransfer"));
}

// Captures what glog writes.
class CapturingLogSink : public google::LogSink {
 public:
  void send(google::LogSeverity severity, const char*, const char*, int, const struct ::tm*,
            const char* message, size_t message_len) override {
    absl::MutexLock lock(&mu_);
    if (severity == google::GLOG_INFO) messages_.emplace_back(message, message_len);
  }
  std::vector<std::string> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> messages_;
};

TEST(GlogAuditSinkTest, WritesInfoWithThePrefix) {
  CapturingLogSink capture;
  google::AddLogSink(&capture);
  GlogAuditSink sink;
  sink.Write("principal=\"p\" decision=ALLOWED");
  google::RemoveLogSink(&capture);
  EXPECT_THAT(capture.messages(), ElementsAre("AUDIT principal=\"p\" decision=ALLOWED"));
}

}  // namespace
}  // namespace ferry::auth
