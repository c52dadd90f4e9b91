#include "auth/policy.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/policy.pb.h"

namespace ferry::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAlice[] = "ferry://user/alice";
constexpr char kBob[] = "ferry://user/bob";
constexpr char kCarol[] = "ferry://user/carol";
constexpr char kCopyd[] = "ferry://cluster/b/copyd";

// Alice reads and writes /data/a on cluster a; the team (bob, carol) reads all of
// cluster a and writes /scratch on b; b's copyd reads /data on a; bob is an admin
// through the ops group, carol directly.
constexpr char kPolicy[] = R"pb(
  groups { name: "team" members: "ferry://user/bob" members: "ferry://user/carol" }
  groups { name: "ops" members: "ferry://user/bob" }
  grants {
    principals: "ferry://user/alice"
    cluster: "a"
    path_prefix: "/data/a"
    permissions: [ PERMISSION_READ, PERMISSION_WRITE ]
  }
  grants { groups: "team" cluster: "a" path_prefix: "/" permissions: PERMISSION_READ }
  grants { groups: "team" cluster: "b" path_prefix: "/scratch" permissions: PERMISSION_WRITE }
  grants {
    principals: "ferry://cluster/b/copyd"
    cluster: "a"
    path_prefix: "/data"
    permissions: PERMISSION_READ
  }
  admin_groups: "ops"
  admin_principals: "ferry://user/carol"
)pb";

std::shared_ptr<const Authorizer> MustCompile(absl::string_view text) {
  absl::StatusOr<std::shared_ptr<const Authorizer>> authorizer =
      Authorizer::FromText(text, "policy.textproto");
  EXPECT_TRUE(authorizer.ok()) << authorizer.status();
  return authorizer.ok() ? *authorizer : nullptr;
}

absl::StatusCode CheckCode(const Authorizer& authorizer, absl::string_view principal,
                           v1::Permission permission, absl::string_view cluster,
                           absl::string_view path) {
  return authorizer.Check(principal, permission, cluster, path).code();
}

absl::Status ParseError(absl::string_view text) {
  return ParsePolicyText(text, "policy.textproto").status();
}

// One grant on one line.
std::string GrantWith(absl::string_view field_text) {
  return absl::StrCat("grants { ", field_text, " }\n");
}

TEST(PolicyParseTest, SyntaxErrorNamesSourceLineAndColumn) {
  const absl::Status status = ParseError("groups { name: \"team\" }\ngrants {\n  cluster: \n}");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.textproto:4:1:"));
}

TEST(PolicyParseTest, UnknownFieldNamesItsLine) {
  const absl::Status status = ParseError("\n\ngrants { clustr: \"a\" }\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.textproto:3:"));
  EXPECT_THAT(status.message(), HasSubstr("clustr"));
}

TEST(PolicyParseTest, BadPathPrefixNamesFieldAndLine) {
  const std::string text = absl::StrCat(
      GrantWith("principals: \"ferry://user/alice\" cluster: \"a\" path_prefix: \"/x\" "
                "permissions: PERMISSION_READ"),
      "grants {\n  principals: \"ferry://user/alice\"\n  cluster: \"a\"\n"
      "  path_prefix: \"/data/../etc\"\n  permissions: PERMISSION_READ\n}\n");
  const absl::Status status = ParseError(text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("policy.textproto:5:3: grants[1].path_prefix"));
  EXPECT_THAT(status.message(), HasSubstr("'..'"));
}

TEST(PolicyParseTest, EverySemanticRuleNamesItsField) {
  const std::string reader = "principals: \"ferry://user/alice\"";
  const std::string rest = "cluster: \"a\" path_prefix: \"/x\" permissions: PERMISSION_READ";
  const struct {
    std::string text;
    std::string expected;
  } cases[] = {
      {GrantWith(absl::StrCat(reader, " path_prefix: \"/x\" permissions: PERMISSION_READ")),
       "grants[0].cluster"},
      {GrantWith(absl::StrCat(reader, " cluster: \"A!\" path_prefix: \"/x\" "
                                      "permissions: PERMISSION_READ")),
       "grants[0].cluster"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" permissions: PERMISSION_READ")),
       "grants[0].path_prefix"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"data\" "
                                      "permissions: PERMISSION_READ")),
       "grants[0].path_prefix"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/a//b\" "
                                      "permissions: PERMISSION_READ")),
       "grants[0].path_prefix"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/a/\" "
                                      "permissions: PERMISSION_READ")),
       "grants[0].path_prefix"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/a/\\000\" "
                                      "permissions: PERMISSION_READ")),
       "grants[0].path_prefix"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/x\"")),
       "grants[0]: grants no permission"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/x\" "
                                      "permissions: PERMISSION_UNSPECIFIED")),
       "grants[0].permissions[0]"},
      {GrantWith(absl::StrCat(reader, " cluster: \"a\" path_prefix: \"/x\" "
                                      "permissions: [PERMISSION_READ, 7]")),
       "grants[0].permissions[1]"},
      {GrantWith(rest), "grants[0]: names no principal and no group"},
      {GrantWith(absl::StrCat("groups: \"nobody\" ", rest)),
       "grants[0].groups[0]: unknown group"},
      {GrantWith(absl::StrCat("principals: \"alice\" ", rest)), "grants[0].principals[0]"},
      {GrantWith(absl::StrCat("principals: \"ferry://cluster/a/root\" ", rest)),
       "grants[0].principals[0]"},
      {"groups { name: \"t\" members: \"ferry://user/a b\" }", "groups[0].members[0]"},
      {"groups { name: \"t\" } groups { name: \"t\" }", "groups[1].name: group \"t\" is defined twice"},
      {"groups { name: \"bad name\" }", "groups[0].name"},
      {"admin_groups: \"nobody\"", "admin_groups[0]: unknown group"},
      {"admin_principals: \"root\"", "admin_principals[0]"},
  };
  for (const auto& c : cases) {
    const absl::Status status = ParseError(c.text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(status.message(), HasSubstr(c.expected)) << c.text;
    EXPECT_THAT(status.message(), HasSubstr("policy.textproto:1:")) << c.text;
  }
}

TEST(PolicyParseTest, AbsentFieldIsLocatedAtItsMessage) {
  const absl::Status status = ParseError(
      "\n\ngrants {\n principals: \"ferry://user/alice\"\n path_prefix: \"/x\"\n"
      " permissions: PERMISSION_READ\n}\n");
  EXPECT_THAT(status.message(), HasSubstr("policy.textproto:3:1: grants[0].cluster"));
}

TEST(PolicyParseTest, ValidatePolicyWithoutTextNamesFieldOnly) {
  v1::Policy policy;
  v1::PolicyGrant* grant = policy.add_grants();
  grant->add_principals(kAlice);
  grant->set_cluster("a");
  grant->set_path_prefix("/a/./b");
  grant->add_permissions(v1::PERMISSION_READ);
  const absl::Status status = ValidatePolicy(policy);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("grants[0].path_prefix"));
  EXPECT_EQ(Authorizer::Compile(policy).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PolicyParseTest, EmptyPolicyDeniesEverything) {
  std::shared_ptr<const Authorizer> authorizer = MustCompile("");
  ASSERT_NE(authorizer, nullptr);
  EXPECT_EQ(CheckCode(*authorizer, kAlice, v1::PERMISSION_READ, "a", "/"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(authorizer->IsAdmin(kAlice));
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    authorizer_ = MustCompile(kPolicy);
    ASSERT_NE(authorizer_, nullptr);
  }
  absl::StatusCode Code(absl::string_view principal, v1::Permission permission,
                        absl::string_view cluster, absl::string_view path) const {
    return CheckCode(*authorizer_, principal, permission, cluster, path);
  }

  std::shared_ptr<const Authorizer> authorizer_;
};

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST_F(AuthorizerTest, PrefixesMatchWholeComponents) {
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data/a"), kOk);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data/a/x"), kOk);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_WRITE, "a", "/data/a/x/y/z"), kOk);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data/ab"), kDenied);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data/ab/x"), kDenied);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data"), kDenied);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/"), kDenied);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", "/data/b"), kDenied);
}

TEST_F(AuthorizerTest, GrantsStayOnTheirCluster) {
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "b", "/data/a"), kDenied);
  EXPECT_EQ(Code(kBob, v1::PERMISSION_READ, "b", "/scratch"), kDenied);
  EXPECT_EQ(Code(kBob, v1::PERMISSION_READ, "zz", "/"), kDenied);
}

TEST_F(AuthorizerTest, RootPrefixGrantsTheWholeCluster) {
  EXPECT_EQ(Code(kBob, v1::PERMISSION_READ, "a", "/"), kOk);
  EXPECT_EQ(Code(kBob, v1::PERMISSION_READ, "a", "/anything/at/all"), kOk);
  EXPECT_EQ(Code(kBob, v1::PERMISSION_WRITE, "a", "/anything"), kDenied);
}

TEST_F(AuthorizerTest, PermissionsAreSeparate) {
  EXPECT_EQ(Code(kCarol, v1::PERMISSION_WRITE, "b", "/scratch/out"), kOk);
  EXPECT_EQ(Code(kCarol, v1::PERMISSION_READ, "b", "/scratch/out"), kDenied);
  EXPECT_EQ(Code(kCopyd, v1::PERMISSION_READ, "a", "/data/x"), kOk);
  EXPECT_EQ(Code(kCopyd, v1::PERMISSION_WRITE, "a", "/data/x"), kDenied);
}

TEST_F(AuthorizerTest, GroupsGrantTheirMembersOnly) {
  EXPECT_EQ(Code(kBob, v1::PERMISSION_WRITE, "b", "/scratch/x"), kOk);
  EXPECT_EQ(Code(kCarol, v1::PERMISSION_READ, "a", "/data/a"), kOk);
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_WRITE, "b", "/scratch/x"), kDenied);
  // A group name is not a principal.
  EXPECT_EQ(Code("team", v1::PERMISSION_READ, "a", "/"), kDenied);
}

TEST_F(AuthorizerTest, DenyByDefault) {
  EXPECT_EQ(Code("ferry://user/mallory", v1::PERMISSION_READ, "a", "/"), kDenied);
  EXPECT_EQ(Code("", v1::PERMISSION_READ, "a", "/data/a"), kDenied);
  EXPECT_EQ(Code("ferry://user/alice/", v1::PERMISSION_READ, "a", "/data/a"), kDenied);
}

TEST_F(AuthorizerTest, AdminsDirectAndThroughGroups) {
  EXPECT_TRUE(authorizer_->IsAdmin(kBob));
  EXPECT_TRUE(authorizer_->IsAdmin(kCarol));
  EXPECT_FALSE(authorizer_->IsAdmin(kAlice));
  EXPECT_FALSE(authorizer_->IsAdmin("ops"));
}

TEST_F(AuthorizerTest, UnnormalizedPathsAreRefusedBeforeMatching) {
  for (const std::string& path : std::vector<std::string>{
           "/data/a/../b", "/data/a/..", "/data/./a", "/data/a/.", "/data//a", "//data/a",
        "/data/a/", "data/a", "", std::string("/data/a\0x", 9),
        std::string("/data/a/\0", 9)}) {
    EXPECT_EQ(Code(kAlice, v1::PERMISSION_READ, "a", path), kInvalid) << path;
    EXPECT_EQ(Code(kBob, v1::PERMISSION_READ, "a", path), kInvalid) << path;
  }
}

TEST_F(AuthorizerTest, PermissionToCheckMustBeReadOrWrite) {
  EXPECT_EQ(Code(kAlice, v1::PERMISSION_UNSPECIFIED, "a", "/data/a"), kInvalid);
  EXPECT_EQ(Code(kAlice, static_cast<v1::Permission>(9), "a", "/data/a"), kInvalid);
}

TEST_F(AuthorizerTest, DenialNamesPathAndPermissionAndEscapesThem) {
  const absl::Status status =
      authorizer_->Check(kAlice, v1::PERMISSION_WRITE, "b", "/data/x\ny");
  EXPECT_EQ(status.code(), kDenied);
  EXPECT_THAT(status.message(), HasSubstr("WRITE"));
  EXPECT_THAT(status.message(), HasSubstr("\"/data/x\\ny\""));
  EXPECT_THAT(status.message(), HasSubstr(kAlice));
  EXPECT_THAT(status.message(), Not(HasSubstr("\n")));
}

TEST(AuthorizerScaleTest, ThousandsOfGrants) {
  v1::Policy policy;
  for (int i = 0; i < 5000; ++i) {
    v1::PolicyGrant* grant = policy.add_grants();
    grant->add_principals(absl::StrCat("ferry://user/u", i));
    grant->set_cluster(i % 2 == 0 ? "a" : "b");
    grant->set_path_prefix(absl::StrCat("/home/u", i));
    grant->add_permissions(v1::PERMISSION_READ);
  }
  absl::StatusOr<std::shared_ptr<const Authorizer>> authorizer = Authorizer::Compile(policy);
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  EXPECT_EQ((*authorizer)->grant_count(), 5000u);
  EXPECT_TRUE((*authorizer)->Check("ferry://user/u4242", v1::PERMISSION_READ, "a",
                                   "/home/u4242/deep/file").ok());
  EXPECT_EQ((*authorizer)->Check("ferry://user/u4242", v1::PERMISSION_READ, "a",
                                 "/home/u4243/file").code(), kDenied);
  EXPECT_EQ((*authorizer)->Check("ferry://user/u4243", v1::PERMISSION_READ, "a",
                                 "/home/u4243/file").code(), kDenied);  // On b.
  // A path far deeper than any grant stops at the deepest granted prefix.
  std::string deep = "/home/u1";
  for (int i = 0; i < 1000; ++i) deep += "/d";
  EXPECT_TRUE((*authorizer)->Check("ferry://user/u1", v1::PERMISSION_READ, "b", deep).ok());
}

}  // namespace
}  // namespace ferry::auth
