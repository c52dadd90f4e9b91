#include "auth/capability.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/policy.h"
#include "common/location.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "storage/path.h"

namespace ferry::auth {
namespace {

struct MacContextFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// The HMAC algorithm, fetched once (fetching is a locked provider lookup). Never
// freed: it lives as long as the process. Null if OpenSSL has no HMAC.
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}

// This thread's HMAC-SHA256 context, created on first use with the digest already
// set, so each MAC only re-keys it. Null if OpenSSL fails (tried again next call).
EVP_MAC_CTX* ThreadMacContext() {
  thread_local std::unique_ptr<EVP_MAC_CTX, MacContextFree> context;
  if (context != nullptr || HmacAlgorithm() == nullptr) return context.get();
  std::unique_ptr<EVP_MAC_CTX, MacContextFree> fresh(EVP_MAC_CTX_new(HmacAlgorithm()));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (fresh != nullptr && EVP_MAC_CTX_set_params(fresh.get(), params) == 1) {
    context = std::move(fresh);
  }
  return context.get();
}

// HMAC-SHA256(key, data) into `mac` (kCapabilityMacBytes).
absl::Status ComputeMac(absl::string_view key, absl::string_view data, unsigned char* mac) {
  EVP_MAC_CTX* context = ThreadMacContext();
  size_t written = 0;
  if (context == nullptr ||
      EVP_MAC_init(context, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   nullptr) != 1 ||
      EVP_MAC_update(context, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1 ||
      EVP_MAC_final(context, mac, &written, kCapabilityMacBytes) != 1 ||
      written != kCapabilityMacBytes) {
    return absl::InternalError("HMAC-SHA256 failed in OpenSSL");
  }
  return absl::OkStatus();
}

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat("capability refused: ", why));
}

absl::Status Denied(absl::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("capability does not allow it: ", why));
}

std::string Quoted(absl::string_view s) { return storage::PathForMessage(s); }

absl::Status ValidateClaims(const v1::CapabilityClaims& claims) {
  if (claims.operation() != v1::CAPABILITY_OPERATION_READ &&
      claims.operation() != v1::CAPABILITY_OPERATION_LIST) {
    return absl::InvalidArgumentError("claims.operation must be READ or LIST");
  }
  if (absl::Status s = ValidateAbsolutePath(claims.path(), "claims.path"); !s.ok()) return s;
  if (absl::Status s = ValidateClusterName(claims.audience_cluster(), "claims.audience_cluster");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateClusterName(claims.issuer_cluster(), "claims.issuer_cluster");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidatePrincipal(claims.user(), "claims.user"); !s.ok()) return s;
  if (claims.expiry_unix_ms() <= 0) {
    return absl::InvalidArgumentError("claims.expiry_unix_ms must be set");
  }
  return absl::OkStatus();
}

// INVALID_ARGUMENT for a request path that is not absolute and normalized,
// PERMISSION_DENIED for claims whose own path is not.
absl::Status CheckPathRequest(const v1::CapabilityClaims& claims, absl::string_view path) {
  if (absl::Status s = ValidateAbsolutePath(path, "path"); !s.ok()) return s;
  // Signed claims are trusted, but a bad path in them must grant nothing rather than
  // match lexically (an empty path would be a prefix of everything).
  if (!ValidateAbsolutePath(claims.path(), "claims.path").ok()) {
    return Denied("its path is not absolute and normalized");
  }
  return absl::OkStatus();
}

// Whether `path` is `dir` or lies under it, on whole components. Both are valid.
bool IsAtOrUnder(absl::string_view dir, absl::string_view path) {
  if (dir == "/") return true;
  return absl::StartsWith(path, dir) &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

// Whether [offset, offset + length) lies in the granted [first, first + count), where
// a length or count of 0 runs to end of file. No sum is formed, so nothing overflows.
bool RangeInside(uint64_t first, uint64_t count, uint64_t offset, uint64_t length) {
  if (offset < first) return false;
  if (count == 0) return true;
  if (length == 0 || length > count) return false;
  return offset - first <= count - length;
}

std::string FormatRange(uint64_t offset, uint64_t length) {
  if (length == 0) return absl::StrCat("[", offset, ", end of file)");
  return absl::StrCat("[", offset, ", ", offset, " + ", length, ")");
}

}  // namespace

absl::StatusOr<v1::Capability> Sign(const KeyRing& keys, const v1::CapabilityClaims& claims) {
  if (absl::Status s = ValidateClaims(claims); !s.ok()) return s;
  v1::Capability capability;
  std::string* bytes = capability.mutable_claims();
  {
    google::protobuf::io::StringOutputStream stream(bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!claims.SerializeToCodedStream(&coded)) {
      return absl::InternalError("capability claims do not serialize");
    }
  }
  // proto3 strings must be UTF-8 (the path is `bytes`, any name): claims with another
  // string that is not would serialize, but no verifier could parse them back. Refuse
  // them here rather than hand out a dead capability.
  if (v1::CapabilityClaims parsed; !parsed.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(
        "claims do not parse back: a string field is not valid UTF-8");
  }
  const std::shared_ptr<const KeySet> key_set = keys.Current();
  const Key& key = key_set->signing_key();
  unsigned char mac[kCapabilityMacBytes];
  if (absl::Status s = ComputeMac(key.secret(), *bytes, mac); !s.ok()) return s;
  capability.set_key_id(key.id());
  capability.set_mac(mac, sizeof mac);
  return capability;
}

absl::StatusOr<v1::CapabilityClaims> Verify(const KeyRing& keys,
                                            const v1::Capability& capability,
                                            absl::Time now,
                                            absl::string_view audience_cluster) {
  const std::shared_ptr<const KeySet> key_set = keys.Current();
  const Key* key = key_set->Find(capability.key_id());
  if (key == nullptr) {
    return Unauthenticated(absl::StrCat("unknown key id ", Quoted(capability.key_id())));
  }
  if (capability.mac().size() != kCapabilityMacBytes) {
    return Unauthenticated(absl::StrCat("MAC is ", capability.mac().size(),
                                        " bytes, not ", kCapabilityMacBytes));
  }
  unsigned char expected[kCapabilityMacBytes];
  if (absl::Status s = ComputeMac(key->secret(), capability.claims(), expected); !s.ok()) {
    return s;
  }
  if (CRYPTO_memcmp(expected, capability.mac().data(), kCapabilityMacBytes) != 0) {
    return Unauthenticated("MAC does not match");
  }
  v1::CapabilityClaims claims;
  if (!claims.ParseFromString(capability.claims())) {
    return Unauthenticated("claims do not parse");
  }
  const absl::Time expiry = absl::FromUnixMillis(claims.expiry_unix_ms());
  if (now >= expiry) {
    return Unauthenticated(absl::StrCat("expired at ", absl::FormatTime(expiry), " (",
                                        absl::FormatDuration(now - expiry), " ago)"));
  }
  if (claims.audience_cluster() != audience_cluster) {
    return Unauthenticated(absl::StrCat("meant for cluster ",
                                        Quoted(claims.audience_cluster()), ", not ",
                                        Quoted(audience_cluster)));
  }
  return claims;
}

absl::Status CheckRead(const v1::CapabilityClaims& claims, absl::string_view path,
                       uint64_t offset, uint64_t length) {
  if (absl::Status s = CheckPathRequest(claims, path); !s.ok()) return s;
  if (claims.operation() != v1::CAPABILITY_OPERATION_READ) return Denied("it grants no read");
  if (path != claims.path()) {
    return Denied(absl::StrCat("it grants reads of ", Quoted(claims.path()), ", not ",
                               Quoted(path)));
  }
  if (!RangeInside(claims.offset(), claims.length(), offset, length)) {
    return Denied(absl::StrCat("bytes ", FormatRange(offset, length), " of ", Quoted(path),
                               " are outside the granted ",
                               FormatRange(claims.offset(), claims.length())));
  }
  return absl::OkStatus();
}

absl::Status CheckStat(const v1::CapabilityClaims& claims, absl::string_view path) {
  if (absl::Status s = CheckPathRequest(claims, path); !s.ok()) return s;
  const bool allowed =
      claims.operation() == v1::CAPABILITY_OPERATION_READ
          ? path == claims.path()
          : claims.operation() == v1::CAPABILITY_OPERATION_LIST &&
                IsAtOrUnder(claims.path(), path);
  if (allowed) return absl::OkStatus();
  return Denied(absl::StrCat("it does not cover a stat of ", Quoted(path)));
}

absl::Status CheckList(const v1::CapabilityClaims& claims, absl::string_view path) {
  if (absl::Status s = CheckPathRequest(claims, path); !s.ok()) return s;
  if (claims.operation() != v1::CAPABILITY_OPERATION_LIST) return Denied("it grants no list");
  if (!IsAtOrUnder(claims.path(), path)) {
    return Denied(absl::StrCat("it grants listing under ", Quoted(claims.path()), ", not ",
                               Quoted(path)));
  }
  return absl::OkStatus();
}

}  // namespace ferry::auth
