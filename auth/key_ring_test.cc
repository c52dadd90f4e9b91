#include "auth/key_ring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// 32 bytes each; distinct so a test can tell them apart.
const std::string kHex1(64, 'a');
const std::string kHex2 = std::string(62, '0') + "b2";

absl::StatusCode ParseCode(absl::string_view text) {
  return KeySet::Parse(text, "keys").status().code();
}

TEST(KeySetTest, LastKeySignsUnlessOneIsMarked) {
  absl::StatusOr<std::shared_ptr<const KeySet>> keys =
      KeySet::Parse(absl::StrCat("# comment\n\nk1 ", kHex1, "\n  k2\t", kHex2, "  \n"), "keys");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->size(), 2u);
  EXPECT_EQ((*keys)->signing_key().id(), "k2");
  ASSERT_NE((*keys)->Find("k1"), nullptr);
  EXPECT_EQ((*keys)->Find("k1")->secret(), std::string(32, '\xaa'));
  EXPECT_EQ((*keys)->Find("k3"), nullptr);
  EXPECT_EQ((*keys)->Find(""), nullptr);

  keys = KeySet::Parse(absl::StrCat("k1 ", kHex1, " signing\nk2 ", kHex2, "\n"), "keys");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->signing_key().id(), "k1");
}

TEST(KeySetTest, RefusesMalformedLinesWithoutEchoingSecrets) {
  const std::string odd_hex = kHex1 + "a";
  const std::string not_hex = std::string(63, 'a') + "g";
  const std::string short_key = std::string(62, 'c');   // 31 bytes.
  const std::string long_key = std::string(514, 'd');   // 257 bytes.
  const struct {
    std::string text;
    std::string expected;
    std::string secret;
  } cases[] = {
      {absl::StrCat("k1 ", odd_hex), "keys:1: secret must be an even number of hex", odd_hex},
      {absl::StrCat("\nk1 ", not_hex), "keys:2: secret must be an even number of hex", not_hex},
      {absl::StrCat("k1 ", short_key), "keys:1: secret must be 32-256 bytes, not 31", short_key},
      {absl::StrCat("k1 ", long_key), "keys:1: secret must be 32-256 bytes, not 257", long_key},
      {absl::StrCat("k/1 ", kHex1), "keys:1: key id", kHex1},
      {absl::StrCat(std::string(65, 'k'), " ", kHex1), "keys:1: key id", kHex1},
      {absl::StrCat("k1 ", kHex1, "\nk1 ", kHex2), "keys:2: duplicate key id (first on line 1)",
       kHex2},
      {absl::StrCat("k1 ", kHex1, " signing\nk2 ", kHex2, " signing"),
       "keys:2: a second key marked signing", kHex2},
      {absl::StrCat("k1 ", kHex1, " sign"), "keys:1: the only word allowed", kHex1},
      {absl::StrCat("k1 ", kHex1, " signing extra"), "keys:1: expected", kHex1},
      {"k1", "keys:1: expected", "k1-no-secret"},
      {"# only a comment\n", "keys: no keys", "no-secret"},
  };
  for (const auto& c : cases) {
    const absl::Status status = KeySet::Parse(c.text, "keys").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(status.message(), HasSubstr(c.expected)) << c.text;
    EXPECT_THAT(status.message(), Not(HasSubstr(c.secret))) << c.text;
  }
  EXPECT_EQ(ParseCode(""), absl::StatusCode::kInvalidArgument);
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    path_ = absl::StrCat(tmp, "/keys-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { unlink(path_.c_str()); }

  void Write(absl::string_view text, mode_t mode = 0600) {
    std::ofstream(path_, std::ios::trunc) << text;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }

  std::string path_;
};

TEST_F(KeyFileTest, PrivateFileLoads) {
  Write(absl::StrCat("k1 ", kHex1, "\n"), 0400);
  absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Open(path_);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->Current()->signing_key().id(), "k1");
}

TEST_F(KeyFileTest, GroupOrWorldAccessIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610}) {
    Write(absl::StrCat("k1 ", kHex1, "\n"), mode);
    const absl::Status status = KeyRing::Open(path_).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(status.message(), HasSubstr("chmod 600"));
    EXPECT_THAT(status.message(), Not(HasSubstr(kHex1)));
  }
}

TEST_F(KeyFileTest, MissingFileAndDirectoryAreRefused) {
  EXPECT_EQ(KeyRing::Open(path_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);
  EXPECT_EQ(KeyRing::Open(path_).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(rmdir(path_.c_str()), 0);
}

TEST_F(KeyFileTest, RotationByKeyId) {
  Write(absl::StrCat("k1 ", kHex1, "\n"));
  absl::StatusOr<std::unique_ptr<KeyRing>> opened = KeyRing::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  KeyRing& ring = **opened;
  const std::shared_ptr<const KeySet> before = ring.Current();

  // 1. Add k2 everywhere; k1 still signs.
  Write(absl::StrCat("k1 ", kHex1, " signing\nk2 ", kHex2, "\n"));
  ASSERT_TRUE(ring.Reload().ok());
  EXPECT_NE(ring.Current()->Find("k2"), nullptr);
  EXPECT_EQ(ring.Current()->signing_key().id(), "k1");
  // 2. k2 signs.
  Write(absl::StrCat("k1 ", kHex1, "\nk2 ", kHex2, " signing\n"));
  ASSERT_TRUE(ring.Reload().ok());
  EXPECT_EQ(ring.Current()->signing_key().id(), "k2");
  EXPECT_NE(ring.Current()->Find("k1"), nullptr);
  // 3. k1 removed.
  Write(absl::StrCat("k2 ", kHex2, "\n"));
  ASSERT_TRUE(ring.Reload().ok());
  EXPECT_EQ(ring.Current()->Find("k1"), nullptr);
  // A snapshot taken earlier is unchanged.
  EXPECT_NE(before->Find("k1"), nullptr);
  EXPECT_EQ(before->Find("k2"), nullptr);
}

TEST_F(KeyFileTest, FailedReloadKeepsTheKeysInForce) {
  Write(absl::StrCat("k1 ", kHex1, "\n"));
  absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Open(path_);
  ASSERT_TRUE(ring.ok()) << ring.status();
  Write(absl::StrCat("k2 ", kHex2.substr(2), "\n"));  // 31 bytes.
  EXPECT_EQ((*ring)->Reload().code(), absl::StatusCode::kInvalidArgument);
  Write(absl::StrCat("k2 ", kHex2, "\n"), 0644);
  EXPECT_EQ((*ring)->Reload().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*ring)->Current()->signing_key().id(), "k1");
  EXPECT_EQ((*ring)->Current()->Find("k2"), nullptr);
}

TEST(KeyRingTest, FixedRingCannotReload) {
  absl::StatusOr<std::shared_ptr<const KeySet>> keys =
      KeySet::Parse(absl::StrCat("k1 ", kHex1), "fixed");
  ASSERT_TRUE(keys.ok());
  std::unique_ptr<KeyRing> ring = KeyRing::FromKeySet(*keys);
  EXPECT_EQ(ring->Reload().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring->Current()->signing_key().id(), "k1");
}

}  // namespace
}  // namespace ferry::auth
