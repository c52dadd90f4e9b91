// libFuzzer target for capability verification and the DataService request checks.
// The ring is fixed: key "fuzz" (32 bytes of 'f', signing) and key "old" (32 bytes of
// 'o'); time is fixed at 1'700'000'000 s; the verifier's cluster is "a". Each input is
// used twice:
//  1. as a serialized Capability, verified as it is: anything accepted must carry the
//     HMAC-SHA256 of its claims under the key it names (recomputed here with OpenSSL's
//     one-shot HMAC, not the code under test), unexpired claims for "a"; and anything
//     with such a MAC and claims must be accepted (no false refusals);
//  2. as claims bytes, signed here with key "fuzz", so the code after the MAC check
//     (parsing, expiry, audience, CheckRead/CheckStat/CheckList) sees arbitrary claims.
// It aborts (a finding) when a refusal is not UNAUTHENTICATED, when an accepted
// capability breaks the rules above, when a one-bit change of an accepted MAC is still
// accepted, or when a Check allows a request outside the claims (range arithmetic is
// redone here in 128 bits) or on a path that is not absolute and normalized.
//
// auth/testdata/capability_corpus was made by auth/testdata/make_capability_corpus.py.
// Built as a libFuzzer binary under --config=fuzz (//auth:capability_fuzzer); otherwise
// //auth:capability_fuzzer_test replays the corpus (driver:
// storage/path_fuzzer_replay_main.cc).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "auth/capability.h"
#include "auth/key_ring.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/capability.pb.h"

namespace ferry::auth {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr char kAudience[] = "a";

void Require(bool ok, const char* what) {
  if (ok) return;
  fprintf(stderr, "capability_fuzzer invariant violated: %s\n", what);
  abort();
}

std::string SecretOf(const std::string& key_id) {
  if (key_id == "fuzz") return std::string(32, 'f');
  if (key_id == "old") return std::string(32, 'o');
  return "";
}

const KeyRing& Ring() {
  static const KeyRing* const ring = [] {
    absl::StatusOr<std::shared_ptr<const KeySet>> fixed = KeySet::Parse(
        absl::StrCat("old ", absl::BytesToHexString(SecretOf("old")), "\nfuzz ",
                     absl::BytesToHexString(SecretOf("fuzz")), " signing\n"),
        "fuzz");
    Require(fixed.ok(), "fixed key ring");
    return KeyRing::FromKeySet(*fixed).release();  // Lives for the process.
  }();
  return *ring;
}

std::string OracleMac(const std::string& secret, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Require(HMAC(EVP_sha256(), secret.data(), secret.size(),
               reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
               &length) != nullptr,
          "oracle HMAC");
  return std::string(reinterpret_cast<char*>(mac), length);
}

bool OracleCanonical(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.size() > 4095) return false;
  if (path.find('\0') != std::string::npos) return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  for (absl::string_view part : absl::StrSplit(absl::string_view(path).substr(1), '/')) {
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
  }
  return true;
}

bool OracleAtOrUnder(const std::string& dir, const std::string& path) {
  if (dir == "/") return true;
  return path == dir || absl::StartsWith(path, dir + "/");
}

// Whether Verify should accept `capability` (everything recomputed here).
bool OracleAccepts(const v1::Capability& capability) {
  const std::string secret = SecretOf(capability.key_id());
  if (secret.empty() || capability.mac() != OracleMac(secret, capability.claims())) {
    return false;
  }
  v1::CapabilityClaims claims;
  return claims.ParseFromString(capability.claims()) &&
         absl::FromUnixMillis(claims.expiry_unix_ms()) > kNow &&
         claims.audience_cluster() == kAudience;
}

std::vector<std::string> ProbePaths(const std::string& path) {
  std::vector<std::string> paths = {path,        path + "/x",  path + "x",   "/",
                                    path + "/",  path + "/.",  path + "/..", path + "//x",
                                    "/." + path, "/" + path,   path.substr(0, path.rfind('/'))};
  paths.push_back(path + std::string(1, '\0'));
  return paths;
}

void CheckRequests(const v1::CapabilityClaims& claims) {
  const uint64_t first = claims.offset();
  const uint64_t count = claims.length();
  const uint64_t offsets[] = {0, first, first - 1, first + 1, first + count,
                              first + count - 1, ~uint64_t{0}};
  const uint64_t lengths[] = {0, 1, count, count + 1, count - 1, ~uint64_t{0}};
  const bool claims_canonical = OracleCanonical(claims.path());
  for (const std::string& path : ProbePaths(claims.path())) {
    const bool canonical = OracleCanonical(path);
    for (uint64_t offset : offsets) {
      for (uint64_t length : lengths) {
        if (!CheckRead(claims, path, offset, length).ok()) continue;
        Require(canonical && path == claims.path(), "read of another path");
        Require(claims.operation() == v1::CAPABILITY_OPERATION_READ, "read without READ");
        Require(offset >= first, "read before the range");
        const unsigned __int128 end = static_cast<unsigned __int128>(offset) + length;
        const unsigned __int128 granted_end = static_cast<unsigned __int128>(first) + count;
        Require(count == 0 || (length != 0 && end <= granted_end), "read past the range");
      }
    }
    if (CheckList(claims, path).ok()) {
      Require(canonical && claims_canonical, "list of a non-canonical path");
      Require(claims.operation() == v1::CAPABILITY_OPERATION_LIST, "list without LIST");
      Require(OracleAtOrUnder(claims.path(), path), "list outside the path");
    }
    if (CheckStat(claims, path).ok()) {
      Require(canonical && claims_canonical, "stat of a non-canonical path");
      Require(claims.operation() == v1::CAPABILITY_OPERATION_LIST
                  ? OracleAtOrUnder(claims.path(), path)
                  : claims.operation() == v1::CAPABILITY_OPERATION_READ &&
                        path == claims.path(),
              "stat outside the claims");
    }
  }
}

// Verifies `capability`, compares with the oracle, and exercises the checks of
// accepted claims.
void VerifyAndCheck(const v1::Capability& capability) {
  absl::StatusOr<v1::CapabilityClaims> claims = Verify(Ring(), capability, kNow, kAudience);
  Require(claims.ok() == OracleAccepts(capability), "Verify disagrees with the oracle");
  if (!claims.ok()) {
    Require(claims.status().code() == absl::StatusCode::kUnauthenticated,
            "refusal is not UNAUTHENTICATED");
    return;
  }
  Require(claims->SerializeAsString() ==
              [&] {
                v1::CapabilityClaims parsed;
                parsed.ParseFromString(capability.claims());
                return parsed.SerializeAsString();
              }(),
          "returned claims differ from the signed ones");
  v1::Capability flipped = capability;
  (*flipped.mutable_mac())[capability.mac().size() - 1] ^= 0x80;
  Require(!Verify(Ring(), flipped, kNow, kAudience).ok(), "a flipped MAC bit was accepted");
  Require(!Verify(Ring(), capability, kNow, "b").ok(), "another audience was accepted");
  CheckRequests(*claims);
}

}  // namespace
}  // namespace ferry::auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::auth;
  // Invalid UTF-8 in claims is common here and expected; protobuf's ERROR line for
  // each would only slow the fuzzer down.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  ferry::v1::Capability as_is;
  if (as_is.ParseFromString(bytes)) VerifyAndCheck(as_is);
  ferry::v1::Capability signed_here;
  signed_here.set_key_id("fuzz");
  signed_here.set_claims(bytes);
  signed_here.set_mac(OracleMac(SecretOf("fuzz"), bytes));
  VerifyAndCheck(signed_here);
  return 0;
}
