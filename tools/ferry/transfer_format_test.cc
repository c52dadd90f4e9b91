#include "tools/ferry/transfer_format.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tools/ferry/sample_transfers.h"

namespace ferry::cli {
namespace {

using ferry::v1::Transfer;
using ::testing::HasSubstr;

constexpr int64_t kMiB = 1 << 20;

Transfer Succeeded() { return SampleSucceeded(); }

TEST(FormatBytesTest, BinaryUnitsWithOneDecimal) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(67318579), "64.2 MiB");
  EXPECT_EQ(FormatBytes(3 * kMiB * 1024), "3.0 GiB");
  EXPECT_EQ(FormatBytes(INT64_MAX), "8.0 EiB");
  EXPECT_EQ(FormatRate(21.7e6), "20.7 MiB/s");
}

TEST(FormatShortDurationTest, Ranges) {
  EXPECT_EQ(FormatShortDuration(absl::Milliseconds(3140)), "3.1 s");
  EXPECT_EQ(FormatShortDuration(absl::Seconds(125)), "2m05s");
  EXPECT_EQ(FormatShortDuration(absl::Seconds(3720)), "1h02m");
  EXPECT_EQ(FormatShortDuration(-absl::Seconds(1)), "0.0 s");
}

TEST(EnumNamesTest, FlagSpellingRoundTrips) {
  EXPECT_EQ(EnumFlagName("OVERWRITE_POLICY_SKIP_IDENTICAL", "OVERWRITE_POLICY_"),
            "skip-identical");
  EXPECT_EQ(EnumValueName("skip-identical", "OVERWRITE_POLICY_"),
            "OVERWRITE_POLICY_SKIP_IDENTICAL");
  EXPECT_EQ(StateName(ferry::v1::TRANSFER_STATE_CANCELLED), "CANCELLED");
}

TEST(FormatResultLineTest, Succeeded) {
  EXPECT_EQ(FormatResultLine(Succeeded(), absl::Seconds(99)) + "\n", kSampleSucceededLine);
}

TEST(FormatResultLineTest, SucceededWithoutServerTimesUsesMeasuredTime) {
  Transfer t = Succeeded();
  t.clear_create_time();
  t.clear_end_time();
  t.mutable_progress()->set_files_skipped(3);
  t.mutable_progress()->set_files_done(1);
  t.mutable_progress()->set_bytes_done(2048);
  t.add_destinations()->set_cluster("far");
  t.mutable_destinations(1)->set_path("/x");
  EXPECT_EQ(FormatResultLine(t, absl::Seconds(2)),
            "SUCCEEDED t-0000000000000042 local:/src -> local:/dst, far:/x: 1 file "
            "(3 skipped), 2.0 KiB in 2.0 s (1.0 KiB/s)");
}

TEST(FormatResultLineTest, DryRun) {
  Transfer t = Succeeded();
  t.set_dry_run(true);
  t.mutable_progress()->set_files_done(0);
  t.mutable_progress()->set_bytes_done(0);
  EXPECT_THAT(FormatResultLine(t, absl::Seconds(1)),
              HasSubstr(": dry run: would copy 203 files, 64.2 MiB"));
}

TEST(FormatResultLineTest, FailedShowsFirstError) {
  Transfer t = Succeeded();
  t.set_state(ferry::v1::TRANSFER_STATE_FAILED);
  t.mutable_progress()->set_files_failed(2);
  auto* first = t.add_errors();
  first->set_code(5);
  first->set_path("a/b.txt");
  first->set_message("no such file");
  t.add_errors()->set_code(7);
  EXPECT_EQ(FormatResultLine(t, absl::Seconds(1)),
            "FAILED t-0000000000000042 local:/src -> local:/dst: 2 files failed; first "
            "error: NOT_FOUND \"a/b.txt\": no such file (and 1 more error)");
}

TEST(FormatResultLineTest, FailedWithoutErrors) {
  Transfer t = Succeeded();
  t.set_state(ferry::v1::TRANSFER_STATE_FAILED);
  EXPECT_THAT(FormatResultLine(t, absl::Seconds(1)), HasSubstr(": no error reported"));
}

TEST(FormatResultLineTest, CancelledAndSubmitted) {
  Transfer t = Succeeded();
  t.set_state(ferry::v1::TRANSFER_STATE_CANCELLED);
  EXPECT_THAT(FormatResultLine(t, absl::Seconds(1)), HasSubstr("local:/dst: cancelled"));
  t.set_state(ferry::v1::TRANSFER_STATE_PENDING);
  EXPECT_EQ(FormatResultLine(t, absl::Seconds(1)),
            "PENDING t-0000000000000042 local:/src -> local:/dst: submitted; follow it "
            "with: ferry status t-0000000000000042");
}

TEST(FormatProgressLineTest, ShowsCountsRateAndEta) {
  Transfer t = Succeeded();
  t.set_state(ferry::v1::TRANSFER_STATE_RUNNING);
  auto* p = t.mutable_progress();
  p->set_files_done(120);
  p->set_bytes_done(40 * kMiB);
  p->set_bytes_per_second(12.5 * kMiB);
  p->set_eta_seconds(2);
  p->set_listing_complete(true);
  EXPECT_EQ(FormatProgressLine(t),
            "t-0000000000000042 RUNNING 120/203 files, 40.0 MiB/64.2 MiB, 12.5 MiB/s, ETA 2s");
  p->set_listing_complete(false);
  p->set_eta_seconds(-1);
  EXPECT_THAT(FormatProgressLine(t), HasSubstr("120/203+ files, 40.0 MiB/64.2 MiB+, "));
  EXPECT_THAT(FormatProgressLine(t), HasSubstr("ETA ?"));
}

TEST(FormatStatusBlockTest, ShowsEverythingUseful) {
  Transfer t = Succeeded();
  t.set_recursive(true);
  t.set_overwrite(ferry::v1::OVERWRITE_POLICY_SKIP_IDENTICAL);
  t.set_priority(ferry::v1::PRIORITY_CLASS_BEST_EFFORT);
  t.mutable_preserve()->set_mode(true);
  t.mutable_preserve()->set_mtime(true);
  (*t.mutable_labels())["team"] = "search";
  t.set_user("alice");
  t.set_stalled_reason("no workers registered");
  t.add_errors()->set_message("boom");
  const std::string block = FormatStatusBlock(t);
  EXPECT_THAT(block, HasSubstr("t-0000000000000042  SUCCEEDED\n"));
  EXPECT_THAT(block, HasSubstr("  route       local:/src -> local:/dst\n"));
  EXPECT_THAT(block, HasSubstr("recursive, overwrite=skip-identical, priority=best-effort, "
                               "preserve=mode,mtime\n"));
  EXPECT_THAT(block, HasSubstr("  labels      team=search\n"));
  EXPECT_THAT(block, HasSubstr("  user        alice\n"));
  EXPECT_THAT(block, HasSubstr("  created     2023-11-14 22:13:20 UTC\n"));
  EXPECT_THAT(block, HasSubstr("  stalled     no workers registered\n"));
  EXPECT_THAT(block, HasSubstr("  error       OK: boom\n"));
}

TEST(FormatStatusBlockTest, ShowsEveryPreservedAttributeOrNone) {
  Transfer t = Succeeded();
  t.mutable_preserve()->set_mode(true);
  t.mutable_preserve()->set_mtime(true);
  t.mutable_preserve()->set_owner(true);
  t.mutable_preserve()->set_hard_links(true);
  EXPECT_THAT(FormatStatusBlock(t), HasSubstr(", preserve=mode,mtime,owner,hard-links\n"));
  t.mutable_preserve()->set_mode(false);
  t.mutable_preserve()->set_mtime(false);
  EXPECT_THAT(FormatStatusBlock(t), HasSubstr(", preserve=owner,hard-links\n"));
  t.clear_preserve();
  EXPECT_THAT(FormatStatusBlock(t), HasSubstr(", preserve=none\n"));
}

TEST(TransferToJsonTest, OneLineThatParsesBack) {
  const Transfer t = Succeeded();
  absl::StatusOr<std::string> json = TransferToJson(t);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->find('\n'), std::string::npos);
  EXPECT_THAT(*json, HasSubstr("\"files_done\":\"203\""));
  EXPECT_THAT(*json, HasSubstr("\"state\":\"TRANSFER_STATE_SUCCEEDED\""));
  Transfer parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, t));
}

}  // namespace
}  // namespace ferry::cli
