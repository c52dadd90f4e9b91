#include "tools/ferry/location.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::cli {
namespace {

using ::testing::HasSubstr;

constexpr size_t kMaxPathBytes = 4095;

std::string Error(absl::string_view text) {
  absl::StatusOr<ferry::v1::Location> location = ParseLocation(text);
  EXPECT_FALSE(location.ok()) << text << " parsed as " << FormatLocation(*location);
  if (location.ok()) return "";
  EXPECT_EQ(location.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(location.status().message());
}

void ExpectParses(absl::string_view text, absl::string_view cluster, absl::string_view path) {
  absl::StatusOr<ferry::v1::Location> location = ParseLocation(text);
  ASSERT_TRUE(location.ok()) << text << ": " << location.status();
  EXPECT_EQ(location->cluster(), cluster);
  EXPECT_EQ(location->path(), path);
}

TEST(ParseLocationTest, AcceptsWellFormedLocations) {
  ExpectParses("local:/data/logs", "local", "/data/logs");
  ExpectParses("a:/", "a", "/");
  ExpectParses("us-east-1:/x", "us-east-1", "/x");
  ExpectParses("local:/a/b:c", "local", "/a/b:c");  // Only the first colon splits.
  ExpectParses("local:/.hidden/..x/x..", "local", "/.hidden/..x/x..");
  ExpectParses("local:/with space/\n", "local", "/with space/\n");
}

TEST(ParseLocationTest, StripsOneTrailingSlash) {
  ExpectParses("local:/data/", "local", "/data");
  ExpectParses("local:/", "local", "/");
}

// An absolute path of exactly `bytes` bytes made of 200-byte components.
std::string PathOfLength(size_t bytes) {
  std::string path;
  while (bytes - path.size() > 201) path += "/" + std::string(200, 'a');
  path += "/" + std::string(bytes - path.size() - 1, 'b');
  return path;
}

TEST(ParseLocationTest, AcceptsLimits) {
  ExpectParses(std::string(63, 'c') + ":/x", std::string(63, 'c'), "/x");
  const std::string longest = PathOfLength(kMaxPathBytes);
  ASSERT_EQ(longest.size(), kMaxPathBytes);
  ExpectParses("local:" + longest, "local", longest);
  ExpectParses("local:/" + std::string(255, 'n'), "local", "/" + std::string(255, 'n'));
}

TEST(ParseLocationTest, MissingCluster) {
  EXPECT_THAT(Error("/data/logs"), HasSubstr("missing cluster: write it as cluster:/path"));
  EXPECT_THAT(Error("data"), HasSubstr("missing cluster"));
  EXPECT_THAT(Error(":/data"), HasSubstr("missing cluster"));
  EXPECT_THAT(Error("/data/a:b"), HasSubstr("missing cluster"));
}

TEST(ParseLocationTest, EmptyInputAndEmptyPath) {
  EXPECT_THAT(Error(""), HasSubstr("empty location"));
  EXPECT_THAT(Error("local:"), HasSubstr("empty path"));
}

TEST(ParseLocationTest, RelativePath) {
  EXPECT_THAT(Error("local:data/logs"), HasSubstr("path must be absolute"));
  EXPECT_THAT(Error("local:."), HasSubstr("path must be absolute"));
}

TEST(ParseLocationTest, BadClusterNames) {
  EXPECT_THAT(Error("Local:/x"), HasSubstr("must start with a lowercase letter"));
  EXPECT_THAT(Error("my_cluster:/x"), HasSubstr("may only hold a-z, 0-9 and '-'"));
  EXPECT_THAT(Error("a.b:/x"), HasSubstr("may only hold"));
  EXPECT_THAT(Error("1abc:/x"), HasSubstr("must start with a lowercase letter"));
  EXPECT_THAT(Error("-abc:/x"), HasSubstr("must start with a lowercase letter"));
  EXPECT_THAT(Error(std::string(64, 'c') + ":/x"), HasSubstr("longer than 63 characters"));
}

TEST(ParseLocationTest, DotComponents) {
  EXPECT_THAT(Error("local:/a/../b"), HasSubstr("'.' or '..' components"));
  EXPECT_THAT(Error("local:/.."), HasSubstr("'.' or '..' components"));
  EXPECT_THAT(Error("local:/a/.."), HasSubstr("'.' or '..' components"));
  EXPECT_THAT(Error("local:/a/./b"), HasSubstr("'.' or '..' components"));
  EXPECT_THAT(Error("local:/."), HasSubstr("'.' or '..' components"));
}

TEST(ParseLocationTest, DoubledSlashes) {
  EXPECT_THAT(Error("local://a"), HasSubstr("empty component ('//')"));
  EXPECT_THAT(Error("local:/a//b"), HasSubstr("empty component ('//')"));
  EXPECT_THAT(Error("local:/a//"), HasSubstr("empty component ('//')"));
  EXPECT_THAT(Error("local://"), HasSubstr("empty component ('//')"));
}

TEST(ParseLocationTest, NulByte) {
  EXPECT_THAT(Error(std::string("local:/a\0b", 10)), HasSubstr("NUL byte"));
}

TEST(ParseLocationTest, TooLong) {
  EXPECT_THAT(Error("local:" + PathOfLength(kMaxPathBytes + 1)),
              HasSubstr("longer than 4095 bytes"));
  EXPECT_THAT(Error("local:/" + std::string(256, 'n')), HasSubstr("longer than 255 bytes"));
}

TEST(ParseLocationTest, MessagesQuoteTheInputSafely) {
  const std::string message = Error("local:rel\npath\x1b[2J");
  EXPECT_THAT(message, HasSubstr("\"local:rel\\npath\\033[2J\""));
  // Hostile lengths are capped.
  EXPECT_LT(Error("local:/" + std::string(10000, 'x')).size(), 400u);
}

TEST(FormatLocationTest, RoundTrips) {
  for (absl::string_view text : {"local:/", "local:/a/b", "z9-x:/a:b/c"}) {
    absl::StatusOr<ferry::v1::Location> location = ParseLocation(text);
    ASSERT_TRUE(location.ok()) << location.status();
    EXPECT_EQ(FormatLocation(*location), text);
  }
}

}  // namespace
}  // namespace ferry::cli
