#include "auth/capability.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/capability.pb.h"

namespace ferry::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kUnauthenticated = absl::StatusCode::kUnauthenticated;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

const std::string kHex1(64, '1');
const std::string kHex2(64, '2');

std::unique_ptr<KeyRing> Ring(absl::string_view text) {
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::Parse(text, "keys");
  EXPECT_TRUE(keys.ok()) << keys.status();
  return KeyRing::FromKeySet(*keys);
}

class CapabilityTest : public ::testing::Test {
 protected:
  CapabilityTest() {
    claims_.set_transfer_id("t-1");
    claims_.set_user("ferry://user/alice");
    claims_.set_issuer_cluster("b");
    claims_.set_audience_cluster("a");
    claims_.set_path("/data/f");
    claims_.set_operation(v1::CAPABILITY_OPERATION_READ);
    claims_.set_offset(100);
    claims_.set_length(50);
    claims_.set_expiry_unix_ms(absl::ToUnixMillis(now_ + absl::Minutes(5)));
  }

  v1::Capability MustSign(const v1::CapabilityClaims& claims) const {
    absl::StatusOr<v1::Capability> capability = Sign(*ring_, claims);
    EXPECT_TRUE(capability.ok()) << capability.status();
    return capability.ok() ? *capability : v1::Capability();
  }

  absl::Status VerifyStatus(const v1::Capability& capability) const {
    return Verify(*ring_, capability, now_, "a").status();
  }

  const absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::unique_ptr<KeyRing> ring_ =
      Ring(absl::StrCat("k1 ", kHex1, " signing\nk2 ", kHex2, "\n"));
  v1::CapabilityClaims claims_;
};

TEST_F(CapabilityTest, RoundTrip) {
  const v1::Capability capability = MustSign(claims_);
  EXPECT_EQ(capability.key_id(), "k1");
  EXPECT_EQ(capability.mac().size(), kCapabilityMacBytes);
  absl::StatusOr<v1::CapabilityClaims> verified = Verify(*ring_, capability, now_, "a");
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->SerializeAsString(), claims_.SerializeAsString());
  // Deterministic: the same claims sign to the same bytes.
  EXPECT_EQ(MustSign(claims_).SerializeAsString(), capability.SerializeAsString());
}

TEST_F(CapabilityTest, MacIsHmacSha256OfTheClaimsBytes) {
  const v1::Capability capability = MustSign(claims_);
  unsigned char expected[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const std::string key(32, '\x11');
  ASSERT_NE(HMAC(EVP_sha256(), key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(capability.claims().data()),
                 capability.claims().size(), expected, &length),
            nullptr);
  EXPECT_EQ(capability.mac(), std::string(reinterpret_cast<char*>(expected), length));
}

TEST_F(CapabilityTest, APathThatIsNotUtf8IsSignedAndVerified) {
  // Linux names are bytes: CapabilityClaims.path is a `bytes` field.
  v1::CapabilityClaims claims = claims_;
  claims.set_path("/data/\xff\xfe name");
  absl::StatusOr<v1::Capability> capability = Sign(*ring_, claims);
  ASSERT_TRUE(capability.ok()) << capability.status();
  v1::CapabilityClaims parsed;
  ASSERT_TRUE(parsed.ParseFromString(capability->claims()));
  EXPECT_EQ(parsed.path(), claims.path());
}

TEST_F(CapabilityTest, SignRefusesClaimsNoCopydCouldHonour) {
  const auto with = [this](auto change) {
    v1::CapabilityClaims claims = claims_;
    change(claims);
    return Sign(*ring_, claims).status();
  };
  EXPECT_EQ(with([](auto& c) { c.set_operation(v1::CAPABILITY_OPERATION_UNSPECIFIED); }).code(),
            kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_path("/data/../f"); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_path(""); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_audience_cluster(""); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_issuer_cluster("B/"); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_user("alice"); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_expiry_unix_ms(0); }).code(), kInvalid);
  EXPECT_EQ(with([](auto& c) { c.set_transfer_id("t-\xc3"); }).code(), kInvalid);
}

// Changes the value of one field of any type the claims use.
void Tamper(v1::CapabilityClaims* claims, const google::protobuf::FieldDescriptor* field) {
  const google::protobuf::Reflection* reflection = claims->GetReflection();
  switch (field->cpp_type()) {
    case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
      reflection->SetString(claims, field, reflection->GetString(*claims, field) + "x");
      break;
    case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
      reflection->SetUInt64(claims, field, reflection->GetUInt64(*claims, field) + 1);
      break;
    case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
      reflection->SetInt64(claims, field, reflection->GetInt64(*claims, field) + 1);
      break;
    case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
      reflection->SetEnumValue(claims, field, reflection->GetEnumValue(*claims, field) + 1);
      break;
    default:
      FAIL() << "no tampering for field " << field->name();
  }
}

TEST_F(CapabilityTest, TamperingWithAnyClaimsFieldIsRefused) {
  const v1::Capability capability = MustSign(claims_);
  const google::protobuf::Descriptor* descriptor = v1::CapabilityClaims::descriptor();
  ASSERT_EQ(descriptor->field_count(), 9);
  for (int i = 0; i < descriptor->field_count(); ++i) {
    v1::CapabilityClaims tampered = claims_;
    Tamper(&tampered, descriptor->field(i));
    ASSERT_NE(tampered.SerializeAsString(), claims_.SerializeAsString());
    v1::Capability forged = capability;
    forged.set_claims(tampered.SerializeAsString());
    const absl::Status status = VerifyStatus(forged);
    EXPECT_EQ(status.code(), kUnauthenticated) << descriptor->field(i)->name();
    EXPECT_THAT(status.message(), HasSubstr("MAC does not match"));
  }
}

TEST_F(CapabilityTest, TamperingWithKeyIdOrMacIsRefused) {
  const v1::Capability capability = MustSign(claims_);
  v1::Capability forged = capability;
  forged.set_key_id("k2");  // A key the verifier has, but not the signer's.
  EXPECT_THAT(VerifyStatus(forged).message(), HasSubstr("MAC does not match"));
  forged.set_key_id("k9");
  EXPECT_EQ(VerifyStatus(forged).code(), kUnauthenticated);
  EXPECT_THAT(VerifyStatus(forged).message(), HasSubstr("unknown key id \"k9\""));
  forged.clear_key_id();
  EXPECT_EQ(VerifyStatus(forged).code(), kUnauthenticated);

  for (size_t byte = 0; byte < kCapabilityMacBytes; ++byte) {
    forged = capability;
    (*forged.mutable_mac())[byte] ^= 0x01;
    EXPECT_EQ(VerifyStatus(forged).code(), kUnauthenticated) << byte;
  }
  for (const std::string& mac :
       {std::string(), capability.mac().substr(0, 31), capability.mac() + "x",
        capability.mac() + capability.mac()}) {
    forged = capability;
    forged.set_mac(mac);
    const absl::Status status = VerifyStatus(forged);
    EXPECT_EQ(status.code(), kUnauthenticated);
    EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("MAC is ", mac.size(), " bytes")));
  }
}

TEST_F(CapabilityTest, MessagesLeakNoSecretOrMac) {
  v1::Capability forged = MustSign(claims_);
  (*forged.mutable_mac())[0] ^= 0x01;
  const absl::Status status = VerifyStatus(forged);
  EXPECT_THAT(status.message(), Not(HasSubstr(forged.mac())));
  EXPECT_THAT(status.message(), Not(HasSubstr(std::string(32, '\x11'))));
  EXPECT_THAT(status.message(), Not(HasSubstr(kHex1)));
  EXPECT_THAT(status.message(), Not(HasSubstr("/data/f")));  // Unauthenticated claims.
}

TEST_F(CapabilityTest, ClaimsThatDoNotParseAreRefusedEvenWithAGoodMac) {
  // What a signer bug could produce: a correct MAC over bytes that are no claims.
  const std::string garbage = "\xff\xff\xff\xff";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const std::string key(32, '\x11');
  ASSERT_NE(HMAC(EVP_sha256(), key.data(), key.size(),
                 reinterpret_cast<const unsigned char*>(garbage.data()), garbage.size(), mac,
                 &length),
            nullptr);
  v1::Capability capability;
  capability.set_key_id("k1");
  capability.set_claims(garbage);
  capability.set_mac(mac, length);
  EXPECT_THAT(VerifyStatus(capability).message(), HasSubstr("claims do not parse"));
  EXPECT_EQ(VerifyStatus(capability).code(), kUnauthenticated);
}

TEST_F(CapabilityTest, ExpiryIsExclusive) {
  const v1::Capability capability = MustSign(claims_);
  const absl::Time expiry = absl::FromUnixMillis(claims_.expiry_unix_ms());
  EXPECT_TRUE(Verify(*ring_, capability, expiry - absl::Milliseconds(1), "a").ok());
  const absl::Status at = Verify(*ring_, capability, expiry, "a").status();
  EXPECT_EQ(at.code(), kUnauthenticated);
  EXPECT_THAT(at.message(), HasSubstr("expired"));
  EXPECT_EQ(Verify(*ring_, capability, expiry + absl::Hours(1), "a").status().code(),
            kUnauthenticated);
}

TEST_F(CapabilityTest, OtherAudienceIsRefused) {
  const v1::Capability capability = MustSign(claims_);
  for (absl::string_view audience : {"b", "", "a2", "A"}) {
    const absl::Status status = Verify(*ring_, capability, now_, audience).status();
    EXPECT_EQ(status.code(), kUnauthenticated) << audience;
    EXPECT_THAT(status.message(), HasSubstr("meant for cluster \"a\""));
  }
}

TEST_F(CapabilityTest, RotationKeepsOldKeysVerifyingUntilRemoved) {
  const v1::Capability old_signed = MustSign(claims_);
  std::unique_ptr<KeyRing> rotated =
      Ring(absl::StrCat("k1 ", kHex1, "\nk2 ", kHex2, " signing\n"));
  EXPECT_TRUE(Verify(*rotated, old_signed, now_, "a").ok());
  absl::StatusOr<v1::Capability> new_signed = Sign(*rotated, claims_);
  ASSERT_TRUE(new_signed.ok());
  EXPECT_EQ(new_signed->key_id(), "k2");
  EXPECT_TRUE(Verify(*ring_, *new_signed, now_, "a").ok());
  std::unique_ptr<KeyRing> without_k1 = Ring(absl::StrCat("k2 ", kHex2, "\n"));
  EXPECT_THAT(Verify(*without_k1, old_signed, now_, "a").status().message(),
              HasSubstr("unknown key id"));
}

TEST_F(CapabilityTest, ReadRangeBoundaries) {
  // Granted: [100, 150).
  const struct {
    uint64_t offset, length;
    absl::StatusCode expected;
  } cases[] = {
      {100, 50, kOk},     {100, 1, kOk},       {149, 1, kOk},      {120, 30, kOk},
      {99, 1, kDenied},   {99, 51, kDenied},   {100, 51, kDenied}, {149, 2, kDenied},
      {150, 1, kDenied},  {120, 31, kDenied},  {100, 0, kDenied},  {149, 0, kDenied},
      {0, 0, kDenied},    {kMax, 1, kDenied},  {100, kMax, kDenied},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CheckRead(claims_, "/data/f", c.offset, c.length).code(), c.expected)
        << c.offset << "+" << c.length;
  }
  const absl::Status denied = CheckRead(claims_, "/data/f", 149, 2);
  EXPECT_THAT(denied.message(), HasSubstr("[149, 149 + 2)"));
  EXPECT_THAT(denied.message(), HasSubstr("[100, 100 + 50)"));
}

TEST_F(CapabilityTest, OpenEndedReadRange) {
  claims_.set_length(0);  // [100, end of file).
  EXPECT_EQ(CheckRead(claims_, "/data/f", 100, 0).code(), kOk);
  EXPECT_EQ(CheckRead(claims_, "/data/f", 100, kMax).code(), kOk);
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax - 1, 1).code(), kOk);
  EXPECT_EQ(CheckRead(claims_, "/data/f", 99, 0).code(), kDenied);
  EXPECT_EQ(CheckRead(claims_, "/data/f", 0, 10).code(), kDenied);
}

TEST_F(CapabilityTest, ReadRangeAtTheTopOfTheOffsetSpaceDoesNotOverflow) {
  claims_.set_offset(kMax - 10);
  claims_.set_length(10);  // [max - 10, max).
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax - 10, 10).code(), kOk);
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax - 1, 1).code(), kOk);
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax, 1).code(), kDenied);
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax - 10, 11).code(), kDenied);
  EXPECT_EQ(CheckRead(claims_, "/data/f", kMax - 5, kMax).code(), kDenied);
}

TEST_F(CapabilityTest, ReadIsForExactlyThePath) {
  EXPECT_EQ(CheckRead(claims_, "/data/f", 100, 50).code(), kOk);
  for (absl::string_view path : {"/data/f2", "/data", "/data/f/x", "/", "/data/F"}) {
    EXPECT_EQ(CheckRead(claims_, path, 100, 50).code(), kDenied) << path;
  }
  for (const std::string& path : std::vector<std::string>{"/data/./f", "/data//f", "/data/f/", "data/f",
                                 "/data/x/../f", std::string("/data/f\0", 8)}) {
    EXPECT_EQ(CheckRead(claims_, path, 100, 50).code(), kInvalid) << path;
  }
  claims_.set_operation(v1::CAPABILITY_OPERATION_LIST);
  EXPECT_EQ(CheckRead(claims_, "/data/f", 100, 50).code(), kDenied);
}

TEST_F(CapabilityTest, ListCoversThePathAndBelowOnWholeComponents) {
  claims_.set_operation(v1::CAPABILITY_OPERATION_LIST);
  claims_.set_path("/data/a");
  for (absl::string_view path : {"/data/a", "/data/a/b", "/data/a/b/c"}) {
    EXPECT_EQ(CheckList(claims_, path).code(), kOk) << path;
    EXPECT_EQ(CheckStat(claims_, path).code(), kOk) << path;
  }
  for (absl::string_view path : {"/data/ab", "/data", "/", "/data/b", "/data/ab/c"}) {
    EXPECT_EQ(CheckList(claims_, path).code(), kDenied) << path;
    EXPECT_EQ(CheckStat(claims_, path).code(), kDenied) << path;
  }
  EXPECT_EQ(CheckList(claims_, "/data/a/../b").code(), kInvalid);
  EXPECT_EQ(CheckList(claims_, "/data/a//b").code(), kInvalid);
  claims_.set_path("/");
  EXPECT_EQ(CheckList(claims_, "/").code(), kOk);
  EXPECT_EQ(CheckList(claims_, "/anything/below").code(), kOk);
  claims_.set_operation(v1::CAPABILITY_OPERATION_READ);
  EXPECT_EQ(CheckList(claims_, "/").code(), kDenied);
}

TEST_F(CapabilityTest, StatUnderReadIsForExactlyThePath) {
  EXPECT_EQ(CheckStat(claims_, "/data/f").code(), kOk);
  EXPECT_EQ(CheckStat(claims_, "/data").code(), kDenied);
  EXPECT_EQ(CheckStat(claims_, "/data/f/x").code(), kDenied);
  claims_.set_operation(v1::CAPABILITY_OPERATION_UNSPECIFIED);
  EXPECT_EQ(CheckStat(claims_, "/data/f").code(), kDenied);
}

TEST_F(CapabilityTest, MalformedPathInClaimsGrantsNothing) {
  claims_.set_operation(v1::CAPABILITY_OPERATION_LIST);
  for (absl::string_view bad : {"", "data", "/data/", "/data/../x"}) {
    claims_.set_path(std::string(bad));
    EXPECT_EQ(CheckList(claims_, "/data/x").code(), kDenied) << bad;
    EXPECT_EQ(CheckStat(claims_, "/data/x").code(), kDenied) << bad;
  }
}

}  // namespace
}  // namespace ferry::auth
