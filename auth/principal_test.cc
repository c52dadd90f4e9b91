#include "auth/principal.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "grpc/grpc_security_constants.h"
#include "gtest/gtest.h"

namespace ferry::auth {
namespace {

TEST(ParsePrincipalTest, AcceptsTheThreeShapes) {
  absl::StatusOr<Principal> user = ParsePrincipal("ferry://user/alice");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->kind, PrincipalKind::kUser);
  EXPECT_EQ(user->name, "alice");
  EXPECT_EQ(user->role, "");

  absl::StatusOr<Principal> process = ParsePrincipal("ferry://cluster/eu-1.b_2/copyd");
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ(process->kind, PrincipalKind::kCluster);
  EXPECT_EQ(process->name, "eu-1.b_2");
  EXPECT_EQ(process->role, "copyd");

  absl::StatusOr<Principal> anonymous = ParsePrincipal(kAnonymousPrincipal);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->kind, PrincipalKind::kAnonymous);
}

TEST(ParsePrincipalTest, RefusesMalformedUris) {
  const std::string long_name(65, 'a');
  for (const std::string& uri : std::vector<std::string>{
           "", "alice", "ferry://", "ferry://user/", "ferry://user/al/ice",
           "ferry://user/al ice", "ferry://user/al%2Fice", "FERRY://user/alice",
           "spiffe://user/alice", "ferry://user/" + long_name, "ferry://cluster/a",
           "ferry://cluster/a/", "ferry://cluster//copyd", "ferry://cluster/a/janitor",
           "ferry://cluster/a/copyd/x", "ferry://group/admins", "ferry://anonymous/x",
           std::string("ferry://user/al\0ice", 19)}) {
    absl::StatusOr<Principal> principal = ParsePrincipal(uri);
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << uri << "'";
  }
}

TEST(ParsePrincipalTest, QuotesUntrustedTextShortAndEscaped) {
  absl::StatusOr<Principal> principal =
      ParsePrincipal("ferry://user/\n" + std::string(500, 'x'));
  ASSERT_FALSE(principal.ok());
  EXPECT_FALSE(absl::StrContains(principal.status().message(), "\n"));
  EXPECT_LT(principal.status().message().size(), 250u) << principal.status();
}

TEST(PrincipalUriTest, IsTheInverseOfParse) {
  for (const char* uri :
       {"ferry://user/bob", "ferry://cluster/a/controller", "ferry://anonymous"}) {
    absl::StatusOr<Principal> principal = ParsePrincipal(uri);
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(PrincipalUri(*principal), uri);
  }
}

// The properties gRPC puts in an AuthContext, without a handshake.
class FakeAuthContext : public grpc::AuthContext {
 public:
  FakeAuthContext(const char* transport, std::vector<std::string> uris) {
    if (transport != nullptr) properties_.emplace(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME, transport);
    for (std::string& uri : uris) {
      properties_.emplace(GRPC_PEER_URI_PROPERTY_NAME, std::move(uri));
    }
  }
  bool IsPeerAuthenticated() const override { return true; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    auto [begin, end] = properties_.equal_range(name);
    for (auto it = begin; it != end; ++it) values.emplace_back(it->second);
    return values;
  }
  grpc::AuthPropertyIterator begin() const override { return EmptyIterator(); }
  grpc::AuthPropertyIterator end() const override { return EmptyIterator(); }
  void AddProperty(const std::string& key, const grpc::string_ref& value) override {
    properties_.emplace(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string& /*name*/) override { return false; }

 private:
  struct EmptyIterator : grpc::AuthPropertyIterator {};
  std::multimap<std::string, std::string> properties_;
};

TEST(PrincipalOfTest, OneFerryUriOfATlsPeer) {
  EXPECT_EQ(PrincipalOf(FakeAuthContext("tls", {"ferry://user/alice"})).value_or(""),
            "ferry://user/alice");
  EXPECT_EQ(PrincipalOf(FakeAuthContext("ssl", {"ferry://cluster/a/bwbroker"})).value_or(""),
            "ferry://cluster/a/bwbroker");
}

TEST(PrincipalOfTest, OtherUrisAreIgnored) {
  EXPECT_EQ(PrincipalOf(FakeAuthContext("tls", {"spiffe://example.org/x",
                                                "ferry://cluster/b/copyd",
                                                "https://example.org/"}))
                .value_or(""),
            "ferry://cluster/b/copyd");
}

TEST(PrincipalOfTest, PlaintextPeerIsAnonymous) {
  EXPECT_EQ(PrincipalOf(FakeAuthContext("insecure", {})).value_or(""), kAnonymousPrincipal);
}

TEST(PrincipalOfTest, EverythingElseIsUnauthenticated) {
  const std::vector<std::pair<const char*, std::vector<std::string>>> cases = {
      {"tls", {}},                                              // no URI SAN
      {"tls", {"spiffe://example.org/x"}},                      // no ferry URI
      {"tls", {"ferry://user/alice", "ferry://user/mallory"}},  // two identities
      {"tls", {"ferry://user/alice", "ferry://user/alice"}},    // the same one twice
      {"tls", {"ferry://user/"}},                               // malformed
      {"tls", {"ferry://anonymous"}},        // only a plaintext peer is anonymous
      {nullptr, {"ferry://user/alice"}},     // unknown transport
      {"alts", {"ferry://user/alice"}},      // not ours
  };
  for (const auto& [transport, uris] : cases) {
    absl::StatusOr<std::string> principal = PrincipalOf(FakeAuthContext(transport, uris));
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated)
        << (transport ? transport : "(none)") << " " << uris.size() << " URIs: "
        << principal.status();
  }
}

}  // namespace
}  // namespace ferry::auth
