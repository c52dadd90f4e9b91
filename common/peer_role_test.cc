#include "common/peer_role.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace ferry {
namespace {

constexpr char kAlice[] = "ferry://user/alice";
constexpr char kCopydA[] = "ferry://cluster/a/copyd";
constexpr char kCopydB[] = "ferry://cluster/b/copyd";
constexpr char kControllerA[] = "ferry://cluster/a/controller";

absl::StatusCode CodeOf(const std::string& principal, const PeerRule& rule) {
  return CheckPeer(principal, rule).status().code();
}

TEST(PeerRoleTest, UsersOnlyAdmitsEveryUserAndNoProcess) {
  const PeerRule rule = UsersOnly("CopyService");
  absl::StatusOr<std::string> alice = CheckPeer(std::string(kAlice), rule);
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(*alice, kAlice);
  EXPECT_EQ(CodeOf("ferry://user/bob", rule), absl::StatusCode::kOk);
  for (const char* process : {kCopydA, kControllerA, "ferry://cluster/a/bwbroker"}) {
    EXPECT_EQ(CodeOf(process, rule), absl::StatusCode::kPermissionDenied) << process;
  }
  absl::Status denied = CheckPeer(std::string(kCopydA), rule).status();
  EXPECT_EQ(denied.message(),
            "CopyService accepts only users (ferry://user/<name>); the caller is "
            "ferry://cluster/a/copyd");
}

TEST(PeerRoleTest, ClusterAndRoleAreMatchedExactly) {
  const PeerRule rule = ProcessesOnly("WorkerService", "a", "copyd");
  EXPECT_EQ(CodeOf(kCopydA, rule), absl::StatusCode::kOk);
  for (const char* other : {kCopydB, kControllerA, kAlice, "ferry://cluster/ab/copyd"}) {
    EXPECT_EQ(CodeOf(other, rule), absl::StatusCode::kPermissionDenied) << other;
  }
  absl::Status denied = CheckPeer(std::string(kAlice), rule).status();
  EXPECT_TRUE(absl::StrContains(denied.message(), "accepts only ferry://cluster/a/copyd"))
      << denied;
}

TEST(PeerRoleTest, EmptyClusterAndRoleMatchAnyProcess) {
  const PeerRule rule = ProcessesOnly("DataService", "", "");
  for (const char* process : {kCopydA, kCopydB, kControllerA, "ferry://cluster/z/bwbroker"}) {
    EXPECT_EQ(CodeOf(process, rule), absl::StatusCode::kOk) << process;
  }
  absl::Status denied = CheckPeer(std::string(kAlice), rule).status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(denied.message(), "ferry://cluster/<cluster>/<role>")) << denied;
}

// Only plaintext peers are anonymous, and plaintext exists only in the unsafe mode.
TEST(PeerRoleTest, AnonymousPeerOfTheUnsafeModeSkipsTheCheck) {
  for (const PeerRule& rule :
       {UsersOnly("CopyService"), ProcessesOnly("WorkerService", "a", "copyd")}) {
    absl::StatusOr<std::string> anonymous = CheckPeer(std::string(auth::kAnonymousPrincipal), rule);
    ASSERT_TRUE(anonymous.ok()) << anonymous.status();
    EXPECT_EQ(*anonymous, auth::kAnonymousPrincipal);
  }
}

TEST(PeerRoleTest, PeerWithoutIdentityIsUnauthenticated) {
  const PeerRule rule = UsersOnly("CopyService");
  absl::Status unknown = CheckPeer(absl::UnauthenticatedError("no ferry:// URI"), rule).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(unknown.message(), "no ferry:// URI");
  EXPECT_EQ(CodeOf("ferry://cluster/a", rule), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace ferry
