#include "common/location.h"

#include <string>

#include "gtest/gtest.h"

namespace ferry {
namespace {

v1::Location Loc(const std::string& cluster, const std::string& path) {
  v1::Location location;
  location.set_cluster(cluster);
  location.set_path(path);
  return location;
}

TEST(LocationTest, AcceptsWellFormedLocations) {
  EXPECT_TRUE(ValidateLocation(Loc("local", "/"), "source").ok());
  EXPECT_TRUE(ValidateLocation(Loc("us-east1", "/data/a b/\xff.bin"), "source").ok());
}

TEST(LocationTest, RejectsBadInputNamingTheField) {
  struct Case {
    std::string cluster, path, expected;
  };
  const Case cases[] = {
      {"", "/a", "source.cluster: missing cluster"},
      {"1abc", "/a", "must start with a lowercase letter"},
      {"Abc", "/a", "must start with a lowercase letter"},
      {"a_b", "/a", "may only hold"},
      {std::string(64, 'a'), "/a", "longer than 63"},
      {"a", "", "source.path: empty path"},
      {"a", "rel/x", "must be absolute"},
      {"a", "/x/", "trailing"},
      {"a", "/x//y", "empty component"},
      {"a", "/x/../y", "'..'"},
      {"a", "/./y", "'.'"},
      {"a", std::string("/x\0y", 4), "NUL"},
      {"a", "/" + std::string(256, 'n'), "longer than 255"},
      {"a", std::string(4096, '/'), "longer than 4095"},
  };
  for (const Case& c : cases) {
    absl::Status status = ValidateLocation(Loc(c.cluster, c.path), "source");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.path;
    EXPECT_NE(status.message().find(c.expected), std::string::npos)
        << status.message() << " lacks " << c.expected;
  }
}

TEST(LocationTest, FormatsAndJoins) {
  EXPECT_EQ(FormatLocation(Loc("local", "/a/b")), "local:/a/b");
  EXPECT_EQ(JoinPath("/dst", ""), "/dst");
  EXPECT_EQ(JoinPath("/dst", "a/b"), "/dst/a/b");
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(*RootRelativePath("/", "p"), "");
  EXPECT_EQ(*RootRelativePath("/a/b", "p"), "a/b");
  EXPECT_FALSE(RootRelativePath("a/b", "p").ok());
}

}  // namespace
}  // namespace ferry
