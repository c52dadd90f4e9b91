#include "auth/daemon_auth.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

class DaemonAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    const std::string base = absl::StrCat(
        tmp, "/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    policy_ = base + ".policy";
    keys_ = base + ".keys";
    std::ofstream(policy_) << "admin_principals: \"ferry://user/root\"\n";
    std::ofstream(keys_) << "k1 " << std::string(64, 'a') << " signing\n";
    ASSERT_EQ(chmod(keys_.c_str(), 0600), 0);
  }
  void TearDown() override {
    unlink(policy_.c_str());
    unlink(keys_.c_str());
  }
  std::string policy_;
  std::string keys_;
};

TEST_F(DaemonAuthTest, OpensBothFiles) {
  absl::StatusOr<DaemonAuth> auth = OpenDaemonAuth(policy_, keys_, false);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->policy->Current()->IsAdmin("ferry://user/root"));
  EXPECT_NE(auth->keys->Current()->Find("k1"), nullptr);
  EXPECT_NE(auth->reloader, nullptr);
}

TEST_F(DaemonAuthTest, BothFlagsAreRequiredUnlessUnsafe) {
  absl::StatusOr<DaemonAuth> auth = OpenDaemonAuth("", keys_, false);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(auth.status().message(), "--policy")) << auth.status();
  auth = OpenDaemonAuth(policy_, "", false);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(auth.status().message(), "--capability_keys"))
      << auth.status();
  auth = OpenDaemonAuth("", "", true);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->policy, nullptr);
  EXPECT_EQ(auth->keys, nullptr);
}

TEST_F(DaemonAuthTest, BadFilesAreErrorsNamingTheFlag) {
  ASSERT_EQ(chmod(keys_.c_str(), 0644), 0);  // Readable by others: refused.
  absl::StatusOr<DaemonAuth> auth = OpenDaemonAuth(policy_, keys_, true);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StartsWith(auth.status().message(), "--capability_keys"))
      << auth.status();
  std::ofstream(policy_, std::ios::trunc) << "grants { nonsense: 1 }\n";
  auth = OpenDaemonAuth(policy_, "", true);
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(auth.status().message(), "--policy")) << auth.status();
}

}  // namespace
}  // namespace ferry::auth
