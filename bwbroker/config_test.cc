#include "bwbroker/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace ferry::bwbroker {
namespace {

constexpr char kTwoLinks[] = R"pb(
  links { source_cluster: "a" destination_cluster: "b" capacity_bytes_per_second: 1000 }
  links { source_cluster: "b" destination_cluster: "a" capacity_bytes_per_second: 500 }
)pb";

// The error ParseConfig returns for kTwoLinks followed by `extra`.
absl::Status ErrorWith(const std::string& extra) {
  return ParseConfig(std::string(kTwoLinks) + extra).status();
}

void ExpectInvalid(const absl::Status& status, const std::string& fragment) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(std::string(status.message()).find(fragment), std::string::npos)
      << "'" << status.message() << "' does not contain '" << fragment << "'";
}

TEST(ConfigTest, ExampleConfigLoads) {
  absl::StatusOr<BrokerConfig> config = LoadConfig("bwbroker/example_config.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->links_size(), 4);
  EXPECT_EQ(config->quotas_size(), 1);
  EXPECT_EQ(config->default_capacity_bytes_per_second(), 1e9);
}

TEST(ConfigTest, DefaultsFillFieldsLeftAtZero) {
  absl::StatusOr<BrokerConfig> config = ParseConfig(kTwoLinks);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(RecomputePeriod(*config), absl::Seconds(1));
  EXPECT_EQ(ReportInterval(*config), absl::Seconds(1));
  EXPECT_EQ(LeaseDuration(*config), absl::Seconds(5));
  EXPECT_EQ(ClientExpiry(*config), absl::Seconds(5));
  EXPECT_EQ(config->default_capacity_bytes_per_second(), 0);
}

TEST(ConfigTest, DefaultLeaseFollowsTheReportInterval) {
  absl::StatusOr<BrokerConfig> config =
      ParseConfig(std::string(kTwoLinks) + "report_interval_ms: 3000 client_expiry_intervals: 6");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(LeaseDuration(*config), absl::Seconds(15));
  EXPECT_EQ(ClientExpiry(*config), absl::Seconds(18));
}

TEST(ConfigTest, EmptyConfigIsValid) { EXPECT_TRUE(ParseConfig("").ok()); }

TEST(ConfigTest, ParseErrorsGiveLineAndColumn) {
  ExpectInvalid(ParseConfig("links {\n  source_cluster: \"a\"\n  capacity: 3\n}\n").status(),
                "line 3 column 11: Message type \"ferry.bwbroker.Link\" has no field named "
                "\"capacity\"");
  ExpectInvalid(ParseConfig("links { source_cluster: 5 }").status(), "line 1 column");
}

TEST(ConfigTest, LinkErrorsNameTheField) {
  ExpectInvalid(ErrorWith(R"pb(links { source_cluster: "c" destination_cluster: "d" })pb"),
                "links[2].capacity_bytes_per_second: must be >= 1");
  ExpectInvalid(ErrorWith(R"pb(links {
                                 source_cluster: "c"
                                 destination_cluster: "d"
                                 capacity_bytes_per_second: -5
                               })pb"),
                "links[2].capacity_bytes_per_second");
  ExpectInvalid(ErrorWith(R"pb(links {
                                 source_cluster: "c"
                                 destination_cluster: "d"
                                 capacity_bytes_per_second: 2e15
                               })pb"),
                "links[2].capacity_bytes_per_second");
  ExpectInvalid(ErrorWith(R"pb(links {
                                 source_cluster: "a"
                                 destination_cluster: "b"
                                 capacity_bytes_per_second: 7
                               })pb"),
                "links[2]: duplicate of links[0]");
  ExpectInvalid(ErrorWith(R"pb(links { destination_cluster: "b" capacity_bytes_per_second: 7 })pb"),
                "links[2].source_cluster");
  ExpectInvalid(ErrorWith(R"pb(links {
                                 source_cluster: "a"
                                 destination_cluster: "Bad_Name"
                                 capacity_bytes_per_second: 7
                               })pb"),
                "links[2].destination_cluster");
}

TEST(ConfigTest, WeightErrorsNameTheField) {
  ExpectInvalid(ErrorWith(R"pb(user_weights { user: "alice" weight: 0 })pb"),
                "user_weights[0].weight: must be > 0");
  ExpectInvalid(ErrorWith(R"pb(user_weights { user: "alice" weight: -1 })pb"),
                "user_weights[0].weight");
  ExpectInvalid(ErrorWith(R"pb(user_weights { weight: 1 })pb"), "user_weights[0].user: required");
  ExpectInvalid(ErrorWith(R"pb(user_weights { user: "alice" weight: 1 }
                               user_weights { user: "alice" weight: 2 })pb"),
                "user_weights[1]: duplicate of user_weights[0]");
  ExpectInvalid(ErrorWith(R"pb(user_weights { user: "alice" weight: 1 priority: 9 })pb"),
                "user_weights[0].priority");
  // The same user may have a weight per class.
  EXPECT_TRUE(ParseConfig(std::string(kTwoLinks) + R"pb(
                user_weights { user: "alice" weight: 1 }
                user_weights { user: "alice" weight: 3 priority: PRIORITY_CLASS_BATCH })pb")
                  .ok());
}

TEST(ConfigTest, QuotaErrorsNameTheField) {
  ExpectInvalid(ErrorWith(R"pb(quotas {
                                 source_cluster: "a"
                                 destination_cluster: "b"
                                 user: "u"
                                 bytes_per_second: 600
                               }
                               quotas {
                                 source_cluster: "a"
                                 destination_cluster: "b"
                                 user: "v"
                                 bytes_per_second: 600
                               })pb"),
                "quotas[1].bytes_per_second: the quotas on link a -> b add up to 1200");
  ExpectInvalid(ErrorWith(R"pb(quotas {
                                 source_cluster: "a"
                                 destination_cluster: "c"
                                 user: "u"
                                 bytes_per_second: 1
                               })pb"),
                "quotas[0]: no link a -> c");
  ExpectInvalid(
      ErrorWith(R"pb(quotas { source_cluster: "a" destination_cluster: "b" user: "u" })pb"),
      "quotas[0].bytes_per_second: must be > 0");
  ExpectInvalid(
      ErrorWith(
          R"pb(quotas { source_cluster: "a" destination_cluster: "b" bytes_per_second: 1 })pb"),
      "quotas[0].user: required");
  ExpectInvalid(ErrorWith(R"pb(quotas {
                                 source_cluster: "a"
                                 destination_cluster: "b"
                                 user: "u"
                                 bytes_per_second: 1
                               }
                               quotas {
                                 source_cluster: "a"
                                 destination_cluster: "b"
                                 user: "u"
                                 bytes_per_second: 1
                               })pb"),
                "quotas[1]: duplicate of quotas[0]");
  // Exactly the capacity is allowed.
  EXPECT_TRUE(ParseConfig(std::string(kTwoLinks) + R"pb(
                quotas {
                  source_cluster: "b"
                  destination_cluster: "a"
                  user: "u"
                  bytes_per_second: 500
                })pb")
                  .ok());
}

TEST(ConfigTest, TimingErrorsNameTheField) {
  ExpectInvalid(ErrorWith("recompute_period_ms: -1"), "recompute_period_ms: must be >= 0");
  ExpectInvalid(ErrorWith("lease_duration_ms: 100000000000"),
                "lease_duration_ms: must be >= 0 and <= 86400000");
  ExpectInvalid(ErrorWith("client_expiry_intervals: -2"), "client_expiry_intervals: must be >= 0");
  ExpectInvalid(ErrorWith("report_interval_ms: -1"), "report_interval_ms: must be >= 0");
  ExpectInvalid(ErrorWith("lease_duration_ms: 1000"),
                "lease_duration_ms: must be longer than report_interval_ms");
  ExpectInvalid(ErrorWith("lease_duration_ms: 10000 client_expiry_intervals: 3"),
                "client_expiry_intervals: 3 x report_interval_ms (1000) is shorter");
  ExpectInvalid(ErrorWith("default_capacity_bytes_per_second: 0.5"),
                "default_capacity_bytes_per_second");
  ExpectInvalid(ErrorWith("default_capacity_bytes_per_second: -1"),
                "default_capacity_bytes_per_second");
}

TEST(ConfigTest, LoadConfigNamesTheFileAndKeepsErrnoCodes) {
  absl::StatusOr<BrokerConfig> missing = LoadConfig("/nonexistent/broker.textproto");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/broker.textproto"),
            std::string::npos);

  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/bad.textproto";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  const std::string text = "links { capacity_bytes_per_second: 1 }\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(close(fd), 0);
  absl::StatusOr<BrokerConfig> bad = LoadConfig(path);
  ExpectInvalid(bad.status(), "bad.textproto: links[0].source_cluster");
}

}  // namespace
}  // namespace ferry::bwbroker
