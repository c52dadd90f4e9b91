#include "common/utf8.h"

#include <string>

#include "gtest/gtest.h"
#include "proto/common.pb.h"

namespace ferry {
namespace {

TEST(ToValidUtf8Test, ValidTextIsUnchanged) {
  EXPECT_EQ(ToValidUtf8("plain /data/a b.txt"), "plain /data/a b.txt");
  EXPECT_EQ(ToValidUtf8("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(ToValidUtf8(""), "");
}

TEST(ToValidUtf8Test, InvalidTextIsEscapedToAscii) {
  EXPECT_EQ(ToValidUtf8("bad \xff name"), "bad \\xff name");
  EXPECT_EQ(ToValidUtf8("cut \xc3"), "cut \\xc3");
}

TEST(ToValidUtf8Test, TheResultSurvivesAProto3StringRoundTrip) {
  v1::Error error;
  error.set_message(ToValidUtf8("failed: /dir/\xfe\xff\n"));
  v1::Error parsed;
  ASSERT_TRUE(parsed.ParseFromString(error.SerializeAsString()));
  EXPECT_EQ(parsed.message(), error.message());
}

}  // namespace
}  // namespace ferry
